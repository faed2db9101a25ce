// Stand-in for Unreal Engine's Modules/ModuleInterface.h (see CoreMinimal.h).

#pragma once

class IModuleInterface
{
public:
	virtual ~IModuleInterface() {}
	virtual void StartupModule() {}
	virtual void ShutdownModule() {}
};
