#include "UdpRelayThread.h"

#include "HAL/RunnableThread.h"
#include "Misc/ScopeLock.h"
#include "UdpRelayLog.h"

TUniquePtr<FUdpRelayThread> FUdpRelayThread::Start(udp_relay::Relay& InRelay)
{
	TUniquePtr<FUdpRelayThread> Runner(new FUdpRelayThread(InRelay));
	// Counters are readable before the first poll ends; the thread does not run yet.
	Runner->PublishStats();
	// Above normal: it sleeps in the socket wait nearly always, and when a datagram arrives
	// forwarding it should not queue behind game work.
	Runner->Thread = FRunnableThread::Create(Runner.Get(), TEXT("UdpRelay"), 0, TPri_AboveNormal);
	if (Runner->Thread == nullptr)
	{
		return nullptr;
	}
	return Runner;
}

FUdpRelayThread::FUdpRelayThread(udp_relay::Relay& InRelay)
	: Relay(InRelay)
{
}

FUdpRelayThread::~FUdpRelayThread()
{
	if (Thread != nullptr)
	{
		// Stop(), then wait: the current poll returns within PollTimeoutMs.
		Thread->Kill(true);
		delete Thread;
		Thread = nullptr;
	}
}

uint32 FUdpRelayThread::Run()
{
	while (!bStopRequested.load(std::memory_order_acquire))
	{
		RunCommands();
		const udp_relay::Result<uint32_t> Polled = Relay.poll(PollTimeoutMs);
		if (!Polled)
		{
			FScopeLock Lock(&StateLock);
			Failure = UdpRelayNative::ToFString(Polled.status());
			bFailed = true;
			return 1;
		}
		HandOverEvents();
		PublishStats();
	}
	return 0;
}

void FUdpRelayThread::Stop()
{
	bStopRequested.store(true, std::memory_order_release);
}

void FUdpRelayThread::RunCommands()
{
	TUniqueFunction<void(udp_relay::Relay&)> Command;
	while (Commands.Dequeue(Command))
	{
		Command(Relay);
	}
}

void FUdpRelayThread::HandOverEvents()
{
	udp_relay::Event Event;
	udp_relay::Status Status;
	while (HandedOverCount.load(std::memory_order_acquire) < MaxHandedOverEvents && Relay.nextEvent(Event, &Status))
	{
		Events.Enqueue(Event);
		HandedOverCount.fetch_add(1, std::memory_order_release);
	}
	if (!Status)
	{
		UE_LOG(LogUdpRelay, Warning, TEXT("Reading relay events failed: %s"), *UdpRelayNative::ToFString(Status));
	}
}

void FUdpRelayThread::PublishStats()
{
	const udp_relay::Result<udp_relay::Stats> Stats = Relay.stats();
	if (Stats)
	{
		FScopeLock Lock(&StateLock);
		LatestStats = *Stats;
	}
}

bool FUdpRelayThread::DequeueEvent(udp_relay::Event& OutEvent)
{
	if (!Events.Dequeue(OutEvent))
	{
		return false;
	}
	HandedOverCount.fetch_sub(1, std::memory_order_acq_rel);
	return true;
}

udp_relay::Stats FUdpRelayThread::GetStats() const
{
	FScopeLock Lock(&StateLock);
	return LatestStats;
}

void FUdpRelayThread::RunOnRelayThread(TUniqueFunction<void(udp_relay::Relay&)> Command)
{
	Commands.Enqueue(MoveTemp(Command));
}

bool FUdpRelayThread::GetFailure(FString& OutError) const
{
	FScopeLock Lock(&StateLock);
	if (bFailed)
	{
		OutError = Failure;
	}
	return bFailed;
}
