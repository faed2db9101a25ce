// Stand-in for Unreal Engine's Misc/Paths.h (see CoreMinimal.h).

#pragma once

#include "CoreMinimal.h"

class FPaths
{
public:
	static FString Combine(const FString& A, const FString& B) { return A + FString(TEXT("/")) + B; }
};
