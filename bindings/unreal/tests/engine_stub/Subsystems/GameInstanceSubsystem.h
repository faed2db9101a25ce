// Stand-in for Unreal Engine's Subsystems/GameInstanceSubsystem.h (see CoreMinimal.h): the
// test plays the engine, calling Initialize and Deinitialize itself.

#pragma once

#include "CoreMinimal.h"
#include "UObject/Object.h"

class FSubsystemCollectionBase
{
};

class USubsystem : public UObject
{
public:
	virtual bool ShouldCreateSubsystem(UObject* Outer) const { return true; }
	virtual void Initialize(FSubsystemCollectionBase& Collection) {}
	virtual void Deinitialize() {}
};

class UGameInstanceSubsystem : public USubsystem
{
};
