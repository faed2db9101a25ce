// Polls an embedded relay on a thread of its own (UUdpRelaySettings::bTickRelayOnOwnThread),
// so a datagram is forwarded when it arrives instead of at the next game frame.

#pragma once

#include "CoreMinimal.h"
#include "Containers/Queue.h"
#include "HAL/CriticalSection.h"
#include "HAL/Runnable.h"
#include "Templates/Function.h"
#include "Templates/UniquePtr.h"
#include "UdpRelayNative.h"

#include <atomic>

class FRunnableThread;

/**
 * While it runs, the relay thread is the only caller of the relay: a poll waiting for traffic
 * holds the relay's handle, so a game-thread call on it could wait behind that. Instead the
 * thread hands events, counters and a failure over to the game thread through the members
 * below, and runs the game thread's commands between two polls.
 */
class UDPRELAY_API FUdpRelayThread final : public FRunnable
{
public:
	/** How long one poll waits for traffic, at most: bounds how late a stop or a command runs. */
	static constexpr uint32 PollTimeoutMs = 5;

	/**
	 * Events waiting for the game thread, at most. While the game thread does not take them
	 * (a hitch, a level load), the rest wait in the relay's own queue, which keeps
	 * max_pending_events and counts what it drops in events_dropped.
	 */
	static constexpr int32 MaxHandedOverEvents = 4096;

	/**
	 * Starts polling InRelay on a new thread. InRelay must stay valid and untouched by others until
	 * the returned object is destroyed. Null if no thread could be created (a platform or
	 * command line without multithreading): the caller then polls on the game thread.
	 */
	static TUniquePtr<FUdpRelayThread> Start(udp_relay::Relay& InRelay);

	/** Stops the thread and waits for it to end: the relay is the caller's alone again. */
	virtual ~FUdpRelayThread() override;

	FUdpRelayThread(const FUdpRelayThread&) = delete;
	FUdpRelayThread& operator=(const FUdpRelayThread&) = delete;

	// Game thread (any thread but the relay thread).

	/** Takes the oldest event the relay thread handed over; false when none is waiting. One consumer at a time. */
	bool DequeueEvent(udp_relay::Event& OutEvent);

	/** The relay's counters as of the end of the latest poll. */
	udp_relay::Stats GetStats() const;

	/**
	 * Runs Command with the relay on the relay thread, before its next poll (within about
	 * PollTimeoutMs). Commands queued when the thread stops are dropped unrun.
	 */
	void RunOnRelayThread(TUniqueFunction<void(udp_relay::Relay&)> Command);

	/** True once the thread ended because a poll failed, with the reason in OutError. */
	bool GetFailure(FString& OutError) const;

	// FRunnable, called by the thread.
	virtual uint32 Run() override;
	virtual void Stop() override;

private:
	explicit FUdpRelayThread(udp_relay::Relay& InRelay);

	void RunCommands();
	void HandOverEvents();
	void PublishStats();

	udp_relay::Relay& Relay;
	FRunnableThread* Thread = nullptr;
	std::atomic<bool> bStopRequested{false};

	/** Relay thread to game thread; HandedOverCount counts what is in it. */
	TQueue<udp_relay::Event, EQueueMode::Spsc> Events;
	std::atomic<int32> HandedOverCount{0};

	/** Any thread to the relay thread. */
	TQueue<TUniqueFunction<void(udp_relay::Relay&)>, EQueueMode::Mpsc> Commands;

	/** Guards LatestStats, Failure and bFailed. */
	mutable FCriticalSection StateLock;
	udp_relay::Stats LatestStats{};
	FString Failure;
	bool bFailed = false;
};
