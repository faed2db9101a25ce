// Stand-in for Unreal Engine's Templates/UniquePtr.h (see CoreMinimal.h): TUniquePtr over
// std::unique_ptr, with the engine's member names.

#pragma once

#include <cstddef>
#include <memory>
#include <utility>

template <typename T>
class TUniquePtr
{
public:
	TUniquePtr() = default;
	TUniquePtr(std::nullptr_t) {}
	explicit TUniquePtr(T* InPtr) : Ptr(InPtr) {}
	TUniquePtr(TUniquePtr&& Other) = default;
	template <typename U, typename = std::enable_if_t<std::is_convertible_v<U*, T*>>>
	TUniquePtr(TUniquePtr<U>&& Other) : Ptr(Other.Release()) {}
	TUniquePtr& operator=(TUniquePtr&& Other) = default;
	TUniquePtr& operator=(std::nullptr_t) { Ptr.reset(); return *this; }
	TUniquePtr(const TUniquePtr&) = delete;
	TUniquePtr& operator=(const TUniquePtr&) = delete;

	bool IsValid() const { return Ptr != nullptr; }
	explicit operator bool() const { return IsValid(); }
	T* Get() const { return Ptr.get(); }
	T* operator->() const { return Ptr.get(); }
	T& operator*() const { return *Ptr; }
	T* Release() { return Ptr.release(); }
	void Reset(T* InPtr = nullptr) { Ptr.reset(InPtr); }

private:
	std::unique_ptr<T> Ptr;
};

template <typename T, typename... ArgTypes>
TUniquePtr<T> MakeUnique(ArgTypes&&... Args)
{
	return TUniquePtr<T>(new T(std::forward<ArgTypes>(Args)...));
}
