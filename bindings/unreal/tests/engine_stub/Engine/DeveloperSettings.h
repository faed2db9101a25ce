// Stand-in for Unreal Engine's Engine/DeveloperSettings.h (see CoreMinimal.h).

#pragma once

#include "CoreMinimal.h"
#include "UObject/Object.h"

class UDeveloperSettings : public UObject
{
public:
	virtual FName GetCategoryName() const { return TEXT("Game"); }
};
