// Stand-in for Unreal Engine's HAL/Runnable.h (see CoreMinimal.h).

#pragma once

#include "CoreMinimal.h"

class FRunnable
{
public:
	/** On the new thread, before Run; false skips Run. */
	virtual bool Init() { return true; }
	virtual uint32 Run() = 0;
	/** From another thread: asks Run to return early. */
	virtual void Stop() {}
	/** On the thread, after Run. */
	virtual void Exit() {}
	virtual ~FRunnable() {}
};
