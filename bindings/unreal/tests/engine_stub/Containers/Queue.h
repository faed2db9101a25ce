// Stand-in for Unreal Engine's Containers/Queue.h (see CoreMinimal.h): the engine's TQueue is
// lock-free; this one takes a mutex, which keeps the same contract (one consumer; one
// producer for Spsc, any number for Mpsc).

#pragma once

#include <deque>
#include <mutex>

#include "CoreMinimal.h"

enum class EQueueMode
{
	Mpsc,
	Spsc,
};

template <typename T, EQueueMode Mode = EQueueMode::Spsc>
class TQueue
{
public:
	TQueue() = default;
	TQueue(const TQueue&) = delete;
	TQueue& operator=(const TQueue&) = delete;

	bool Enqueue(const T& Item)
	{
		std::lock_guard<std::mutex> Lock(Mutex);
		Items.push_back(Item);
		return true;
	}
	bool Enqueue(T&& Item)
	{
		std::lock_guard<std::mutex> Lock(Mutex);
		Items.push_back(MoveTemp(Item));
		return true;
	}
	bool Dequeue(T& OutItem)
	{
		std::lock_guard<std::mutex> Lock(Mutex);
		if (Items.empty())
		{
			return false;
		}
		OutItem = MoveTemp(Items.front());
		Items.pop_front();
		return true;
	}
	bool IsEmpty() const
	{
		std::lock_guard<std::mutex> Lock(Mutex);
		return Items.empty();
	}
	void Empty()
	{
		std::lock_guard<std::mutex> Lock(Mutex);
		Items.clear();
	}

private:
	mutable std::mutex Mutex;
	std::deque<T> Items;
};
