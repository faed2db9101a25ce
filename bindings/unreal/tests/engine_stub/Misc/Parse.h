// Stand-in for Unreal Engine's Misc/Parse.h (see CoreMinimal.h).

#pragma once

#include "CoreMinimal.h"

struct FParse
{
	/** Finds Match ("Key=") in Stream and reads the value after it, up to a blank. */
	static bool Value(const TCHAR* Stream, const TCHAR* Match, FString& Value, bool bShouldStopOnSeparator = true);
};
