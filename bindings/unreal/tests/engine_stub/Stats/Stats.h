// Stand-in for Unreal Engine's Stats/Stats.h (see CoreMinimal.h): stats are compiled out.

#pragma once

struct TStatId
{
};

#define RETURN_QUICK_DECLARE_CYCLE_STAT(StatId, GroupId) return TStatId()
