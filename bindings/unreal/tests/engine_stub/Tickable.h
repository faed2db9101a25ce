// Stand-in for Unreal Engine's Tickable.h (see CoreMinimal.h): nothing ticks on its own; the
// test calls Tick while IsTickable(), as the engine's tickable manager would once per frame.

#pragma once

#include "CoreMinimal.h"
#include "Stats/Stats.h"

enum class ETickableTickType : uint8
{
	Conditional,
	Always,
	Never,
	NewObject,
};

class FTickableGameObject
{
public:
	virtual ~FTickableGameObject() = default;
	virtual void Tick(float DeltaTime) = 0;
	virtual ETickableTickType GetTickableTickType() const { return ETickableTickType::Conditional; }
	virtual bool IsTickable() const { return true; }
	virtual bool IsTickableWhenPaused() const { return false; }
	virtual TStatId GetStatId() const = 0;
};
