// Stand-in for Unreal Engine's CoreMinimal.h, so tests/unreal_plugin.rs can compile and run the
// plugin's sources without an engine. It declares only what the plugin uses, with the
// signatures of Unreal Engine 5.3 (Linux types: TCHAR is char16_t, uint64 is unsigned long
// long), implemented over the standard library. Anything it gets wrong the engine build would
// catch and this one would not: it checks the plugin's logic, not its fit to the engine.

#pragma once

#include <atomic>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// ---- CoreTypes --------------------------------------------------------------------------

typedef unsigned char uint8;
typedef unsigned short int uint16;
typedef unsigned int uint32;
typedef unsigned long long uint64;
typedef signed char int8;
typedef signed short int int16;
typedef signed int int32;
typedef signed long long int64;
typedef char ANSICHAR;
typedef char16_t TCHAR;
typedef char UTF8CHAR;
typedef std::size_t SIZE_T;

#define TEXT(x) u##x
#define MAX_int32 (static_cast<int32>(0x7fffffff))
#define PLATFORM_LINUX 1
#ifndef PLATFORM_WINDOWS
#define PLATFORM_WINDOWS 0
#endif
#ifndef PLATFORM_MAC
#define PLATFORM_MAC 0
#endif
#define THIRD_PARTY_INCLUDES_START
#define THIRD_PARTY_INCLUDES_END

template <typename T>
constexpr std::remove_reference_t<T>&& MoveTemp(T&& Object)
{
	static_assert(!std::is_const_v<std::remove_reference_t<T>>, "MoveTemp of a const object");
	return static_cast<std::remove_reference_t<T>&&>(Object);
}

struct FMemory
{
	static void* Memzero(void* Dest, SIZE_T Count)
	{
		return Count > 0 ? std::memset(Dest, 0, Count) : Dest;
	}
	static void* Memcpy(void* Dest, const void* Src, SIZE_T Count)
	{
		return Count > 0 ? std::memcpy(Dest, Src, Count) : Dest;
	}
};

struct FMath
{
	template <class T>
	static constexpr T Max(const T A, const T B) { return A < B ? B : A; }
	template <class T>
	static constexpr T Min(const T A, const T B) { return A < B ? A : B; }
	template <class T>
	static constexpr T Clamp(const T X, const T MinValue, const T MaxValue)
	{
		return X < MinValue ? MinValue : (X < MaxValue ? X : MaxValue);
	}
};

// ---- Containers -------------------------------------------------------------------------

template <typename T>
class TArray
{
public:
	TArray() = default;
	TArray(std::initializer_list<T> Items) : Data(Items) {}

	int32 Num() const { return static_cast<int32>(Data.size()); }
	bool IsEmpty() const { return Data.empty(); }
	T* GetData() { return Data.empty() ? nullptr : Data.data(); }
	const T* GetData() const { return Data.empty() ? nullptr : Data.data(); }
	void SetNumUninitialized(int32 NewNum) { Data.resize(static_cast<size_t>(NewNum)); }
	void SetNum(int32 NewNum) { Data.resize(static_cast<size_t>(NewNum)); }
	void Reset() { Data.clear(); }
	void Empty() { Data.clear(); Data.shrink_to_fit(); }
	int32 Add(const T& Item) { Data.push_back(Item); return Num() - 1; }
	void Append(const T* Ptr, int32 Count) { Data.insert(Data.end(), Ptr, Ptr + Count); }
	T& operator[](int32 Index) { return Data[static_cast<size_t>(Index)]; }
	const T& operator[](int32 Index) const { return Data[static_cast<size_t>(Index)]; }
	T* begin() { return Data.data(); }
	T* end() { return Data.data() + Data.size(); }
	const T* begin() const { return Data.data(); }
	const T* end() const { return Data.data() + Data.size(); }

private:
	std::vector<T> Data;
};

// ---- Strings ------------------------------------------------------------------------------

namespace UeStub
{
	std::u16string Utf8ToUtf16(const char* Text);
	std::string Utf16ToUtf8(const TCHAR* Text);
	/** printf for TCHAR formats: %s takes a TCHAR*, %hs a char*, the rest as printf. */
	std::u16string FormatV(const TCHAR* Format, va_list Args);
}

class FString
{
public:
	FString() = default;
	FString(const TCHAR* Text) : Chars(Text != nullptr ? Text : u"") {}
	explicit FString(std::u16string Text) : Chars(MoveTemp(Text)) {}

	static FString Printf(const TCHAR* Format, ...)
	{
		va_list Args;
		va_start(Args, Format);
		FString Result(UeStub::FormatV(Format, Args));
		va_end(Args);
		return Result;
	}

	const TCHAR* operator*() const { return Chars.c_str(); }
	int32 Len() const { return static_cast<int32>(Chars.size()); }
	bool IsEmpty() const { return Chars.empty(); }
	void Reset() { Chars.clear(); }
	bool Contains(const TCHAR* Part) const { return Chars.find(Part) != std::u16string::npos; }
	FString TrimStartAndEnd() const
	{
		const size_t First = Chars.find_first_not_of(u" \t\r\n");
		if (First == std::u16string::npos)
		{
			return FString();
		}
		const size_t Last = Chars.find_last_not_of(u" \t\r\n");
		return FString(Chars.substr(First, Last - First + 1));
	}
	FString& operator+=(const FString& Other) { Chars += Other.Chars; return *this; }
	friend FString operator+(FString A, const FString& B) { return A += B; }
	friend bool operator==(const FString& A, const FString& B) { return A.Chars == B.Chars; }
	friend bool operator!=(const FString& A, const FString& B) { return A.Chars != B.Chars; }

private:
	std::u16string Chars;
};

class FName
{
public:
	FName() = default;
	FName(const TCHAR* Name) : Text(Name) {}
	FString ToString() const { return Text; }

private:
	FString Text;
};

/** TCHAR_TO_UTF8: a converted copy that lives until the end of the full expression. */
class FTCHARToUTF8
{
public:
	explicit FTCHARToUTF8(const TCHAR* Text) : Converted(UeStub::Utf16ToUtf8(Text)) {}
	const ANSICHAR* Get() const { return Converted.c_str(); }
	int32 Length() const { return static_cast<int32>(Converted.size()); }

private:
	std::string Converted;
};

class FUTF8ToTCHAR
{
public:
	explicit FUTF8ToTCHAR(const ANSICHAR* Text) : Converted(UeStub::Utf8ToUtf16(Text)) {}
	const TCHAR* Get() const { return Converted.c_str(); }

private:
	std::u16string Converted;
};

#define TCHAR_TO_UTF8(Text) (FTCHARToUTF8(static_cast<const TCHAR*>(Text)).Get())
#define UTF8_TO_TCHAR(Text) (FUTF8ToTCHAR(static_cast<const ANSICHAR*>(Text)).Get())

// ---- Logging --------------------------------------------------------------------------------

namespace ELogVerbosity
{
	enum Type : uint8
	{
		NoLogging = 0,
		Fatal,
		Error,
		Warning,
		Display,
		Log,
		Verbose,
		VeryVerbose,
	};
}

struct FLogCategoryBase
{
	FLogCategoryBase(const TCHAR* InName, ELogVerbosity::Type InVerbosity) : Name(InName), Verbosity(InVerbosity) {}
	const TCHAR* Name;
	ELogVerbosity::Type Verbosity;
};

namespace UeStub
{
	/** Writes the record to stdout (serialised: UE_LOG may be called from any thread). */
	void Log(const FLogCategoryBase& Category, ELogVerbosity::Type Verbosity, const TCHAR* Format, ...);
	/** Records logged so far at Verbosity. */
	int32 LogCount(ELogVerbosity::Type Verbosity);
	/** Whether a record logged so far contains Text. */
	bool LogContains(const TCHAR* Text);
}

#define DECLARE_LOG_CATEGORY_EXTERN(CategoryName, DefaultVerbosity, CompileTimeVerbosity) \
	extern FLogCategoryBase CategoryName
#define DEFINE_LOG_CATEGORY(CategoryName) FLogCategoryBase CategoryName(TEXT(#CategoryName), ELogVerbosity::Log)
#define UE_LOG(CategoryName, Verbosity, ...) ::UeStub::Log(CategoryName, ELogVerbosity::Verbosity, __VA_ARGS__)
#define UE_LOG_ACTIVE(CategoryName, LevelName) (ELogVerbosity::LevelName <= CategoryName.Verbosity)

// ---- Delegates ----------------------------------------------------------------------------

class FDelegateHandle
{
public:
	FDelegateHandle() = default;
	explicit FDelegateHandle(uint64 InId) : Id(InId) {}
	bool IsValid() const { return Id != 0; }
	friend bool operator==(FDelegateHandle A, FDelegateHandle B) { return A.Id == B.Id; }

private:
	uint64 Id = 0;
};

template <typename Signature>
class TMulticastDelegate;

template <typename... ParamTypes>
class TMulticastDelegate<void(ParamTypes...)>
{
public:
	template <typename FunctorType>
	FDelegateHandle AddLambda(FunctorType&& Functor)
	{
		Bound.push_back({++LastId, std::function<void(ParamTypes...)>(std::forward<FunctorType>(Functor))});
		return FDelegateHandle(LastId);
	}
	bool Remove(FDelegateHandle Handle)
	{
		for (size_t Index = 0; Index < Bound.size(); ++Index)
		{
			if (FDelegateHandle(Bound[Index].first) == Handle)
			{
				Bound.erase(Bound.begin() + static_cast<std::ptrdiff_t>(Index));
				return true;
			}
		}
		return false;
	}
	void Clear() { Bound.clear(); }
	bool IsBound() const { return !Bound.empty(); }
	void Broadcast(ParamTypes... Params) const
	{
		// A copy: a handler may add or remove handlers.
		const auto Handlers = Bound;
		for (const auto& Handler : Handlers)
		{
			Handler.second(Params...);
		}
	}

private:
	std::vector<std::pair<uint64, std::function<void(ParamTypes...)>>> Bound;
	uint64 LastId = 0;
};

#define DECLARE_MULTICAST_DELEGATE_OneParam(DelegateName, Param1Type) \
	typedef TMulticastDelegate<void(Param1Type)> DelegateName

// ---- CoreGlobals ----------------------------------------------------------------------------

namespace UeStub
{
	/** What IsRunningDedicatedServer() answers. */
	inline bool bDedicatedServer = false;
}

inline bool IsRunningDedicatedServer()
{
	return UeStub::bDedicatedServer;
}

#include "Templates/UniquePtr.h"
