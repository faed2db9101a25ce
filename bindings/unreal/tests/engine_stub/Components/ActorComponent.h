// Stand-in for Unreal Engine's Components/ActorComponent.h (see CoreMinimal.h): the test calls
// TickComponent while the component's tick is enabled, and EndPlay.

#pragma once

#include "CoreMinimal.h"
#include "UObject/Object.h"

enum ELevelTick
{
	LEVELTICK_TimeOnly = 0,
	LEVELTICK_ViewportsOnly = 1,
	LEVELTICK_All = 2,
	LEVELTICK_PauseTick = 3,
};

namespace EEndPlayReason
{
	enum Type
	{
		Destroyed,
		LevelTransition,
		EndPlayInEditor,
		RemovedFromWorld,
		Quit,
	};
}

struct FActorComponentTickFunction
{
	bool bCanEverTick = false;
	bool bStartWithTickEnabled = true;
	bool bTickEnabled = false;
};

class UActorComponent : public UObject
{
public:
	FActorComponentTickFunction PrimaryComponentTick;

	virtual void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) {}
	virtual void SetComponentTickEnabled(bool bEnabled)
	{
		PrimaryComponentTick.bTickEnabled = bEnabled && PrimaryComponentTick.bCanEverTick;
	}
	bool IsComponentTickEnabled() const { return PrimaryComponentTick.bTickEnabled; }
	virtual void EndPlay(const EEndPlayReason::Type EndPlayReason) {}
};
