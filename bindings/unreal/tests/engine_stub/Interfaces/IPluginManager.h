// Stand-in for Unreal Engine's Interfaces/IPluginManager.h (see CoreMinimal.h). Only the
// Windows and macOS branch of the module uses it, which the test compiles but never runs.

#pragma once

#include <memory>

#include "CoreMinimal.h"

class IPlugin
{
public:
	virtual ~IPlugin() = default;
	virtual FString GetBaseDir() const = 0;
};

template <typename T>
class TSharedPtr
{
public:
	TSharedPtr() = default;
	explicit TSharedPtr(std::shared_ptr<T> InPtr) : Ptr(MoveTemp(InPtr)) {}
	bool IsValid() const { return Ptr != nullptr; }
	T* operator->() const { return Ptr.get(); }

private:
	std::shared_ptr<T> Ptr;
};

class IPluginManager
{
public:
	virtual ~IPluginManager() = default;
	virtual TSharedPtr<IPlugin> FindPlugin(const FString& Name) = 0;
	static IPluginManager& Get();
};
