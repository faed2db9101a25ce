// Stand-in for Unreal Engine's HAL/RunnableThread.h (see CoreMinimal.h), over std::thread,
// with the engine's order: Create returns once the runnable's Init ran on the new thread, then
// Run and Exit follow there; Kill(true) calls Stop and waits. Without multithreading (see
// UeStub::bSupportsMultithreading) Create returns null, as the engine does for a runnable
// that offers no single-thread interface.

#pragma once

#include <thread>

#include "CoreMinimal.h"
#include "HAL/Runnable.h"

enum EThreadPriority
{
	TPri_Normal,
	TPri_AboveNormal,
	TPri_BelowNormal,
	TPri_Highest,
	TPri_Lowest,
	TPri_SlightlyBelowNormal,
	TPri_TimeCritical,
	TPri_Num,
};

enum class EThreadCreateFlags : int8
{
	None = 0,
	SMTExclusive = (1 << 0),
};

namespace UeStub
{
	/** What FPlatformProcess::SupportsMultithreading() would answer (-nothreading clears it). */
	inline std::atomic<bool> bSupportsMultithreading{true};
	/** Threads FRunnableThread::Create started and that have not ended yet. */
	inline std::atomic<int32> RunningThreads{0};
}

class FRunnableThread
{
public:
	static FRunnableThread* Create(FRunnable* InRunnable, const TCHAR* ThreadName, uint32 InStackSize = 0,
		EThreadPriority InThreadPri = TPri_Normal, uint64 InThreadAffinityMask = 0,
		EThreadCreateFlags InCreateFlags = EThreadCreateFlags::None);

	virtual ~FRunnableThread();
	virtual bool Kill(bool bShouldWait = true);
	virtual void WaitForCompletion();
	const FString& GetThreadName() const { return ThreadName; }

private:
	FRunnableThread(FRunnable* InRunnable, const TCHAR* InThreadName) : Runnable(InRunnable), ThreadName(InThreadName) {}

	FRunnable* Runnable;
	FString ThreadName;
	std::thread Thread;
};
