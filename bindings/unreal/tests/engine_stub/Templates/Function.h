// Stand-in for Unreal Engine's Templates/Function.h (see CoreMinimal.h): TUniqueFunction is
// move-only, as in the engine, so a copy the engine would reject fails here too.

#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

template <typename Signature>
class TUniqueFunction;

template <typename ReturnType, typename... ParamTypes>
class TUniqueFunction<ReturnType(ParamTypes...)>
{
public:
	TUniqueFunction() = default;
	TUniqueFunction(std::nullptr_t) {}
	template <typename FunctorType,
		typename = std::enable_if_t<!std::is_same_v<std::decay_t<FunctorType>, TUniqueFunction>>>
	TUniqueFunction(FunctorType&& Functor)
		: Callable(std::make_unique<TModel<std::decay_t<FunctorType>>>(std::forward<FunctorType>(Functor)))
	{
	}
	TUniqueFunction(TUniqueFunction&&) = default;
	TUniqueFunction& operator=(TUniqueFunction&&) = default;
	TUniqueFunction(const TUniqueFunction&) = delete;
	TUniqueFunction& operator=(const TUniqueFunction&) = delete;

	explicit operator bool() const { return Callable != nullptr; }
	ReturnType operator()(ParamTypes... Params) const { return Callable->Call(std::forward<ParamTypes>(Params)...); }

private:
	struct FConcept
	{
		virtual ~FConcept() = default;
		virtual ReturnType Call(ParamTypes... Params) = 0;
	};
	template <typename FunctorType>
	struct TModel final : FConcept
	{
		template <typename ArgType>
		explicit TModel(ArgType&& InFunctor) : Functor(std::forward<ArgType>(InFunctor)) {}
		ReturnType Call(ParamTypes... Params) override { return Functor(std::forward<ParamTypes>(Params)...); }
		FunctorType Functor;
	};
	std::unique_ptr<FConcept> Callable;
};
