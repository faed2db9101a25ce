#include "UdpRelaySubsystem.h"

#include "Misc/Base64.h"
#include "UdpRelayLog.h"
#include "UdpRelayModule.h"
#include "UdpRelaySettings.h"

void UUdpRelaySubsystem::Initialize(FSubsystemCollectionBase& Collection)
{
	Super::Initialize(Collection);

	const UUdpRelaySettings* Settings = GetDefault<UUdpRelaySettings>();
	bLogChannelEvents = Settings->bLogChannelEvents;
	if ((Settings->bEnableOnDedicatedServer && IsRunningDedicatedServer()) || Settings->bForceEmbeddedRelay)
	{
		StartRelay();
	}
}

void UUdpRelaySubsystem::Deinitialize()
{
	StopRelay();
	Super::Deinitialize();
}

bool UUdpRelaySubsystem::StartRelay()
{
	if (EmbeddedRelay.valid())
	{
		return true;
	}
	if (!FUdpRelayModule::IsLibraryReady())
	{
		LastError = TEXT("the udp_relay library is not loaded (see the log)");
		UE_LOG(LogUdpRelay, Error, TEXT("Embedded relay not started: %s"), *LastError);
		return false;
	}

	const UUdpRelaySettings* Settings = GetDefault<UUdpRelaySettings>();
	udp_relay::RelayConfigBuilder Config;
	FString ConfigError;
	if (!Settings->ToRelayConfig(Config, ConfigError))
	{
		LastError = ConfigError;
		UE_LOG(LogUdpRelay, Error, TEXT("Embedded relay not started: %s"), *LastError);
		return false;
	}
	const bool bKeyed = Config.native().secret_key_len > 0;

	udp_relay::Result<udp_relay::Relay> Started = udp_relay::Relay::start(Config);
	if (!Started)
	{
		LastError = UdpRelayNative::ToFString(Started.status());
		UE_LOG(LogUdpRelay, Error, TEXT("Embedded relay not started: %s"), *LastError);
		return false;
	}
	EmbeddedRelay = MoveTemp(Started).value();
	RelayPort = EmbeddedRelay.localPort();
	LastError.Reset();

	if (Settings->bTickRelayOnOwnThread)
	{
		RelayThread = FUdpRelayThread::Start(EmbeddedRelay);
		if (!RelayThread.IsValid())
		{
			UE_LOG(LogUdpRelay, Warning, TEXT("No thread for the embedded relay (multithreading is off): polling it on the game thread"));
		}
	}
	UE_LOG(LogUdpRelay, Log, TEXT("Embedded relay listening on UDP port %d%s, polled on %s"), RelayPort,
		bKeyed ? TEXT(" (keyed)") : TEXT(""), RelayThread.IsValid() ? TEXT("its own thread") : TEXT("the game thread"));
	return true;
}

void UUdpRelaySubsystem::StopRelay()
{
	// The thread first: once it is joined, the relay is this thread's alone.
	RelayThread.Reset();
	if (!EmbeddedRelay.valid())
	{
		return;
	}
	udp_relay::Result<udp_relay::Stats> Stats = EmbeddedRelay.stats();
	if (Stats)
	{
		UE_LOG(LogUdpRelay, Log, TEXT("Embedded relay stopping: %llu datagrams in, %llu out, %llu dropped, %llu channels allocated"),
			static_cast<unsigned long long>(Stats->datagrams_in), static_cast<unsigned long long>(Stats->datagrams_out),
			static_cast<unsigned long long>(Stats->datagrams_dropped),
			static_cast<unsigned long long>(Stats->channels_allocated_total));
	}
	EmbeddedRelay.stop();
	RelayPort = 0;
}

void UUdpRelaySubsystem::DrainRelay()
{
	RunOnRelay([](udp_relay::Relay& Polled)
	{
		const udp_relay::Status Drained = Polled.drain();
		if (!Drained)
		{
			UE_LOG(LogUdpRelay, Warning, TEXT("Draining the relay failed: %s"), *UdpRelayNative::ToFString(Drained));
		}
	});
}

void UUdpRelaySubsystem::RunOnRelay(TUniqueFunction<void(udp_relay::Relay&)> Command)
{
	if (RelayThread.IsValid())
	{
		RelayThread->RunOnRelayThread(MoveTemp(Command));
	}
	else if (EmbeddedRelay.valid())
	{
		Command(EmbeddedRelay);
	}
}

bool UUdpRelaySubsystem::IsRelayRunning() const
{
	return EmbeddedRelay.valid();
}

udp_relay::Result<udp_relay::Stats> UUdpRelaySubsystem::GetRelayStats() const
{
	if (RelayThread.IsValid())
	{
		return RelayThread->GetStats();
	}
	return EmbeddedRelay.stats();
}

int32 UUdpRelaySubsystem::GetOpenChannelCount() const
{
	const udp_relay::Result<udp_relay::Stats> Stats = GetRelayStats();
	return Stats ? static_cast<int32>(FMath::Min<uint64>(Stats->channels_open, MAX_int32)) : 0;
}

bool UUdpRelaySubsystem::MintSeatToken(const FString& ChannelGuid, EUdpRelaySeat Seat, int64 ExpiryUnixSeconds,
	FString& OutSeatTokenBase64, FString& OutError)
{
	OutSeatTokenBase64.Reset();
	if (!FUdpRelayModule::IsLibraryReady())
	{
		OutError = TEXT("the udp_relay library is not loaded (see the log)");
		return false;
	}
	const udp_relay::Result<udp_relay::Guid> Guid = udp_relay::Guid::parse(TCHAR_TO_UTF8(*ChannelGuid));
	if (!Guid)
	{
		OutError = UdpRelayNative::ToFString(Guid.status());
		return false;
	}
	TArray<uint8> Key;
	if (!UUdpRelaySettings::DecodeKey(GetDefault<UUdpRelaySettings>()->GetSecretKeyBase64(), Key, OutError))
	{
		return false;
	}
	// An empty key, a zero GUID: the library says what is wrong.
	const udp_relay::Result<udp_relay::Token> Token = udp_relay::mintToken(UdpRelayNative::ToByteView(Key), *Guid,
		Seat == EUdpRelaySeat::A ? udp_relay::TokenRole::A : udp_relay::TokenRole::B,
		static_cast<uint64_t>(FMath::Max<int64>(ExpiryUnixSeconds, 0)));
	FMemory::Memzero(Key.GetData(), Key.Num());
	if (!Token)
	{
		OutError = UdpRelayNative::ToFString(Token.status());
		return false;
	}
	OutSeatTokenBase64 = FBase64::Encode(Token->data(), static_cast<uint32>(Token->size()));
	OutError.Reset();
	return true;
}

void UUdpRelaySubsystem::Tick(float DeltaTime)
{
	if (RelayThread.IsValid())
	{
		TakeEventsFromThread();
	}
	else
	{
		PollOnGameThread();
	}
}

void UUdpRelaySubsystem::PollOnGameThread()
{
	// Never waits (timeout 0): at most max_datagrams_per_poll datagrams per frame.
	const udp_relay::Result<uint32_t> Polled = EmbeddedRelay.poll(0);
	if (!Polled)
	{
		LastError = UdpRelayNative::ToFString(Polled.status());
		UE_LOG(LogUdpRelay, Error, TEXT("Embedded relay poll failed, stopping it: %s"), *LastError);
		StopRelay();
		return;
	}

	udp_relay::EventRange Events = EmbeddedRelay.events();
	for (const udp_relay::Event& Event : Events)
	{
		DeliverEvent(Event);
	}
	if (!Events.status())
	{
		UE_LOG(LogUdpRelay, Warning, TEXT("Reading relay events failed: %s"), *UdpRelayNative::ToFString(Events.status()));
	}
}

void UUdpRelaySubsystem::TakeEventsFromThread()
{
	// A handler may stop the relay: the loop re-checks the thread.
	udp_relay::Event Event;
	while (RelayThread.IsValid() && RelayThread->DequeueEvent(Event))
	{
		DeliverEvent(Event);
	}
	// Events handed over before a failure were delivered above.
	FString Failure;
	if (RelayThread.IsValid() && RelayThread->GetFailure(Failure))
	{
		LastError = Failure;
		UE_LOG(LogUdpRelay, Error, TEXT("Embedded relay poll failed on its thread, stopping it: %s"), *LastError);
		StopRelay();
	}
}

void UUdpRelaySubsystem::DeliverEvent(const udp_relay::Event& Event)
{
	if (bLogChannelEvents)
	{
		LogEvent(Event);
	}
	OnRelayEvent.Broadcast(Event);
}

void UUdpRelaySubsystem::LogEvent(const udp_relay::Event& Event) const
{
	const FString Guid = UdpRelayNative::ToFString(Event.guid());
	switch (Event.kind())
	{
	case udp_relay::EventKind::ChannelAllocated:
		UE_LOG(LogUdpRelay, Log, TEXT("Channel %s allocated by %s"), *Guid, *UdpRelayNative::ToFString(Event.peerA()));
		break;
	case udp_relay::EventKind::ChannelEstablished:
		UE_LOG(LogUdpRelay, Log, TEXT("Channel %s established: %s <-> %s"), *Guid,
			*UdpRelayNative::ToFString(Event.peerA()), *UdpRelayNative::ToFString(Event.peerB()));
		break;
	case udp_relay::EventKind::ChannelClosed:
		UE_LOG(LogUdpRelay, Log, TEXT("Channel %s closed (%s) after %llu ms: %llu datagrams A->B, %llu B->A, %llu dropped"),
			*Guid, Event.closeReason() == udp_relay::CloseReason::PeerMoved ? TEXT("peer moved") : TEXT("expired"),
			static_cast<unsigned long long>(Event.lifetimeMs()),
			static_cast<unsigned long long>(Event.counters().datagrams_a_to_b),
			static_cast<unsigned long long>(Event.counters().datagrams_b_to_a),
			static_cast<unsigned long long>(Event.counters().dropped));
		break;
	case udp_relay::EventKind::Drained:
		UE_LOG(LogUdpRelay, Log, TEXT("Relay drained: no channel left"));
		break;
	}
}

ETickableTickType UUdpRelaySubsystem::GetTickableTickType() const
{
	// The class default object never ticks; instances tick while the relay runs.
	return IsTemplate() ? ETickableTickType::Never : ETickableTickType::Conditional;
}

bool UUdpRelaySubsystem::IsTickable() const
{
	return EmbeddedRelay.valid();
}

TStatId UUdpRelaySubsystem::GetStatId() const
{
	RETURN_QUICK_DECLARE_CYCLE_STAT(UUdpRelaySubsystem, STATGROUP_Tickables);
}
