// Stand-in for Unreal Engine's UObject/Object.h and the reflection macros (see CoreMinimal.h).
// UnrealHeaderTool does not run: the macros expand to nothing, and each `X.generated.h` that
// tests/unreal_plugin.rs writes defines GENERATED_BODY() for that header's class (Super,
// ThisClass), which is what the plugin's code relies on.

#pragma once

#include "CoreMinimal.h"

#define UCLASS(...)
#define USTRUCT(...)
#define UENUM(...)
#define UPROPERTY(...)
#define UFUNCTION(...)
#define UMETA(...)

class UObject
{
public:
	virtual ~UObject() = default;
	/** True for class default objects and archetypes; the plugin's instances are neither. */
	bool IsTemplate() const { return false; }
};

namespace UeStub
{
	template <typename T>
	T* DefaultObject()
	{
		static T Object;
		return &Object;
	}
}

/** The class default object, where config properties land. */
template <typename T>
const T* GetDefault()
{
	return UeStub::DefaultObject<T>();
}

template <typename T>
T* GetMutableDefault()
{
	return UeStub::DefaultObject<T>();
}

/** What DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam declares: bound with AddDynamic. */
template <typename Param1Type>
class TStubDynamicMulticastDelegate
{
public:
	template <typename UserClass>
	void Internal_AddDynamic(UserClass* Object, void (UserClass::*Function)(Param1Type))
	{
		Bound.push_back([Object, Function](Param1Type Value) { (Object->*Function)(Value); });
	}
	void Clear() { Bound.clear(); }
	bool IsBound() const { return !Bound.empty(); }
	void Broadcast(Param1Type Value) const
	{
		const auto Handlers = Bound;
		for (const auto& Handler : Handlers)
		{
			Handler(Value);
		}
	}

private:
	std::vector<std::function<void(Param1Type)>> Bound;
};

#define DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(DelegateName, Param1Type, Param1Name) \
	class DelegateName : public TStubDynamicMulticastDelegate<Param1Type> \
	{ \
	}
#define AddDynamic(UserObject, FuncName) Internal_AddDynamic(UserObject, FuncName)
