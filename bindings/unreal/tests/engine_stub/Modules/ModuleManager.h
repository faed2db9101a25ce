// Stand-in for Unreal Engine's Modules/ModuleManager.h (see CoreMinimal.h): IMPLEMENT_MODULE
// registers the module; the test loads and unloads it, as the engine would at startup and
// shutdown.

#pragma once

#include "CoreMinimal.h"
#include "Modules/ModuleInterface.h"

class FModuleManager
{
public:
	/** The module if it is loaded, else null. */
	template <typename TModuleInterface>
	static TModuleInterface* GetModulePtr(const FName ModuleName)
	{
		return static_cast<TModuleInterface*>(FindLoaded(ModuleName));
	}

	// Test side.
	static bool Register(const TCHAR* ModuleName, IModuleInterface* Module);
	static bool LoadModule(const TCHAR* ModuleName);
	static void UnloadModule(const TCHAR* ModuleName);

private:
	static IModuleInterface* FindLoaded(const FName& ModuleName);
};

#define IMPLEMENT_MODULE(ModuleImplClass, ModuleName) \
	static ModuleImplClass GStubModule_##ModuleName; \
	static const bool GStubModuleRegistered_##ModuleName = FModuleManager::Register(TEXT(#ModuleName), &GStubModule_##ModuleName);
