// Stand-in for Unreal Engine's Misc/CommandLine.h (see CoreMinimal.h).

#pragma once

#include "CoreMinimal.h"

struct FCommandLine
{
	static const TCHAR* Get();
	static bool Set(const TCHAR* NewCommandLine);
};
