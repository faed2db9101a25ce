// Stand-in for Unreal Engine's HAL/PlatformProcess.h (see CoreMinimal.h). Only the Windows and
// macOS branch of the module loads libraries by hand, which the test compiles but never runs.

#pragma once

#include "CoreMinimal.h"

struct FPlatformProcess
{
	static void* GetDllHandle(const TCHAR* Filename);
	static void FreeDllHandle(void* DllHandle);
	static bool SupportsMultithreading();
};
