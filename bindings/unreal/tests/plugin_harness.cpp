// plugin_harness.cpp -- plays the engine for the Unreal plugin's sources, compiled against the
// stand-in headers in engine_stub/ and the real udp_relay library (tests/unreal_plugin.rs
// builds and runs it). It loads the module, maps the settings onto the relay config, runs the
// embedded relay on its own thread and on the game thread, joins two client components through
// it (with seat tokens, and without), and stops everything, on 127.0.0.1 only. Prints one line
// per check and a final "N passed, N failed"; exits 1 on failure.

#include "UdpRelayClientComponent.h"
#include "UdpRelayModule.h"
#include "UdpRelaySettings.h"
#include "UdpRelaySubsystem.h"
#include "UdpRelayThread.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>

#include "HAL/RunnableThread.h"
#include "Misc/Base64.h"
#include "Misc/CommandLine.h"
#include "Modules/ModuleManager.h"

namespace
{
	int GPassed = 0;
	int GFailed = 0;

	void Expect(bool bOk, const char* What, const std::string& Detail = std::string())
	{
		if (bOk)
		{
			++GPassed;
			std::printf("ok   %s\n", What);
		}
		else
		{
			++GFailed;
			std::printf("FAIL %s%s%s\n", What, Detail.empty() ? "" : ": ", Detail.c_str());
		}
		std::fflush(stdout);
	}

	std::string Utf8(const FString& Text)
	{
		return UeStub::Utf16ToUtf8(*Text);
	}

	using FClock = std::chrono::steady_clock;

	/** Calls Step until it returns true or Seconds pass, about every millisecond. */
	template <typename StepType>
	bool Within(double Seconds, StepType Step)
	{
		const auto Deadline = FClock::now() + std::chrono::duration<double>(Seconds);
		while (FClock::now() < Deadline)
		{
			if (Step())
			{
				return true;
			}
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		}
		return Step();
	}

	/** One engine frame for the subsystem, as the tickable manager runs it. */
	void TickSubsystem(UUdpRelaySubsystem& Subsystem)
	{
		if (Subsystem.GetTickableTickType() == ETickableTickType::Conditional && Subsystem.IsTickable())
		{
			Subsystem.Tick(0.033f);
		}
	}

	/** One engine frame for a component: ticks it while its tick is enabled. */
	void TickComponent(UUdpRelayClientComponent& Component)
	{
		if (Component.IsComponentTickEnabled())
		{
			Component.TickComponent(0.033f, LEVELTICK_All, &Component.PrimaryComponentTick);
		}
	}

	/** Records what a component broadcasts, as a Blueprint or UFUNCTION handler would. */
	class FComponentListener
	{
	public:
		void OnStateChanged(EUdpRelayClientState NewState) { States.push_back(NewState); }
		void OnDatagramReceived(const TArray<uint8>& Datagram)
		{
			Received.push_back(std::string(reinterpret_cast<const char*>(Datagram.GetData()), static_cast<size_t>(Datagram.Num())));
		}

		std::vector<EUdpRelayClientState> States;
		std::vector<std::string> Received;
	};

	/** Events a subsystem broadcast, and whether each came on the game (main) thread. */
	struct FEventLog
	{
		std::vector<udp_relay::EventKind> Kinds;
		bool bAllOnGameThread = true;

		bool Has(udp_relay::EventKind Kind) const
		{
			for (const udp_relay::EventKind Seen : Kinds)
			{
				if (Seen == Kind)
				{
					return true;
				}
			}
			return false;
		}
	};

	const std::thread::id GGameThread = std::this_thread::get_id();

	void Listen(UUdpRelaySubsystem& Subsystem, FEventLog& Log)
	{
		Subsystem.OnRelayEvent.AddLambda([&Log](const udp_relay::Event& Event)
		{
			Log.bAllOnGameThread = Log.bAllOnGameThread && std::this_thread::get_id() == GGameThread;
			Log.Kinds.push_back(Event.kind());
		});
	}

	/** Base64 of Count bytes 1, 2, 3, ...: a key for these tests only. */
	FString TestKeyBase64(uint8 Count)
	{
		TArray<uint8> Key;
		for (uint8 Byte = 1; Byte <= Count; ++Byte)
		{
			Key.Add(Byte);
		}
		return FBase64::Encode(Key);
	}

	/** Settings back to their defaults, then what every relay test here needs. */
	UUdpRelaySettings& ResetSettings()
	{
		UUdpRelaySettings& Settings = *GetMutableDefault<UUdpRelaySettings>();
		Settings = UUdpRelaySettings();
		Settings.bForceEmbeddedRelay = true;
		Settings.Port = 0;
		Settings.BindAddress = TEXT("127.0.0.1");
		Settings.bLogChannelEvents = true;
		return Settings;
	}

	FString RelayAddressOf(const UUdpRelaySubsystem& Subsystem)
	{
		return FString::Printf(TEXT("127.0.0.1:%d"), Subsystem.GetRelayPort());
	}

	/** Whether a UDP socket can bind 127.0.0.1:Port (the relay let go of it). */
	bool PortIsFree(int32 Port)
	{
		const int Socket = ::socket(AF_INET, SOCK_DGRAM, 0);
		sockaddr_in Address{};
		Address.sin_family = AF_INET;
		Address.sin_port = htons(static_cast<uint16_t>(Port));
		Address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		const bool bBound = ::bind(Socket, reinterpret_cast<const sockaddr*>(&Address), sizeof Address) == 0;
		::close(Socket);
		return bBound;
	}
}

// ---- settings ---------------------------------------------------------------------------------

static void SettingsDefaultsAreTheLibrarys()
{
	const UUdpRelaySettings Defaults;
	udp_relay::RelayConfigBuilder Config;
	FString Error;
	Expect(Defaults.ToRelayConfig(Config, Error), "default settings make a config", Utf8(Error));
	const RelayConfig Mapped = Config.native();
	RelayConfig Library{};
	relay_config_default(&Library);
	Expect(Mapped.port == Library.port, "default Port is the library's");
	Expect(Mapped.inactivity_timeout_ms == Library.inactivity_timeout_ms, "default InactivityTimeoutMs is the library's");
	Expect(Mapped.max_channels == Library.max_channels, "default MaxChannels is the library's");
	Expect(Mapped.handshake_rate_per_source == Library.handshake_rate_per_source, "default HandshakeRatePerSource is the library's");
	Expect(Mapped.handshake_burst_per_source == Library.handshake_burst_per_source, "default HandshakeBurstPerSource is the library's");
	Expect(Mapped.max_pending_per_source == Library.max_pending_per_source, "default MaxPendingPerSource is the library's");
	Expect(Mapped.max_tracked_sources == Library.max_tracked_sources, "default MaxTrackedSources is the library's");
	Expect(Mapped.channel_bandwidth_bytes_per_sec == Library.channel_bandwidth_bytes_per_sec,
		"default ChannelBandwidthBytesPerSec is the library's");
	Expect(Mapped.require_tokens == Library.require_tokens, "default bRequireTokens is the library's");
	Expect(Mapped.require_return_path == Library.require_return_path, "default bRequireReturnPath is the library's");
	Expect(Mapped.coalesce_window_us == Library.coalesce_window_us, "default CoalesceWindowUs is the library's");
	Expect(Mapped.bind_address == nullptr && Mapped.secret_key_len == 0, "default: dual-stack, no key");
	Expect(Mapped.recv_buffer_bytes == Library.recv_buffer_bytes && Mapped.max_datagrams_per_poll == Library.max_datagrams_per_poll
			&& Mapped.max_pending_events == Library.max_pending_events,
		"fields without a setting keep the library's defaults");
}

static void SettingsReachTheRelayConfig()
{
	UUdpRelaySettings Settings;
	Settings.Port = 7001;
	Settings.BindAddress = TEXT("127.0.0.1");
	Settings.InactivityTimeoutMs = 1234;
	Settings.MaxChannels = 77;
	Settings.HandshakeRatePerSource = 7;
	Settings.HandshakeBurstPerSource = 9;
	Settings.MaxPendingPerSource = 3;
	Settings.MaxTrackedSources = 11;
	Settings.ChannelBandwidthBytesPerSec = 12345;
	Settings.bRequireTokens = true;
	Settings.bRequireReturnPath = true;
	Settings.CoalesceWindowUs = 250;
	Settings.SecretKeyBase64 = TestKeyBase64(32);
	udp_relay::RelayConfigBuilder Config;
	FString Error;
	Expect(Settings.ToRelayConfig(Config, Error), "custom settings make a config", Utf8(Error));
	const RelayConfig Mapped = Config.native();
	Expect(Mapped.port == 7001 && Mapped.inactivity_timeout_ms == 1234 && Mapped.max_channels == 77, "port, timeout, channels mapped");
	Expect(Mapped.bind_address != nullptr && std::string(Mapped.bind_address) == "127.0.0.1", "bind address mapped");
	Expect(Mapped.handshake_rate_per_source == 7 && Mapped.handshake_burst_per_source == 9, "handshake rate and burst mapped");
	Expect(Mapped.max_pending_per_source == 3 && Mapped.max_tracked_sources == 11, "pending and tracked sources mapped");
	Expect(Mapped.channel_bandwidth_bytes_per_sec == 12345, "channel bandwidth mapped");
	Expect(Mapped.require_tokens == 1 && Mapped.require_return_path == 1, "tokens and return path required");
	Expect(Mapped.coalesce_window_us == 250, "coalescing window mapped");
	Expect(Mapped.secret_key_len == 32 && Mapped.secret_key[0] == 1 && Mapped.secret_key[31] == 32, "key decoded from base64");

	// The library judges the config: these start, or fail with its reason.
	Settings.Port = 0;
	udp_relay::RelayConfigBuilder Startable;
	Expect(Settings.ToRelayConfig(Startable, Error) && udp_relay::Relay::start(Startable).has_value(),
		"the mapped config starts a relay");
	Settings.SecretKeyBase64.Reset();
	udp_relay::RelayConfigBuilder Keyless;
	Expect(Settings.ToRelayConfig(Keyless, Error), "tokens without a key: mapped, for the library to judge");
	const udp_relay::Result<udp_relay::Relay> Refused = udp_relay::Relay::start(Keyless);
	Expect(!Refused && Refused.status().is(RELAY_STATUS_INVALID_ARGUMENT), "the library refuses tokens without a key",
		Refused ? std::string("started") : Refused.status().toString());
}

static void SettingsRefuseWhatTheyCannotMap()
{
	UUdpRelaySettings Settings;
	udp_relay::RelayConfigBuilder Config;
	FString Error;
	Settings.HandshakeRatePerSource = -1;
	Expect(!Settings.ToRelayConfig(Config, Error) && Error.Contains(TEXT("HandshakeRatePerSource must not be negative")),
		"a negative limit is refused by name", Utf8(Error));
	Settings = UUdpRelaySettings();
	Settings.Port = 70000;
	Expect(!Settings.ToRelayConfig(Config, Error) && Error.Contains(TEXT("Port")), "a port above 65535 is refused", Utf8(Error));
	Settings = UUdpRelaySettings();
	Settings.SecretKeyBase64 = TEXT("not base64!");
	Expect(!Settings.ToRelayConfig(Config, Error) && Error.Contains(TEXT("secret key")), "a malformed key is refused", Utf8(Error));

	Settings = UUdpRelaySettings();
	Settings.SecretKeyBase64 = TEXT("AAAA");
	FCommandLine::Set(TEXT("-log -UdpRelaySecretKey=AQID -nosound"));
	Expect(Utf8(Settings.GetSecretKeyBase64()) == "AQID", "-UdpRelaySecretKey= overrides the ini key");
	FCommandLine::Set(TEXT(""));
	Expect(Utf8(Settings.GetSecretKeyBase64()) == "AAAA", "without it the ini key is used");
}

// ---- the relay on its own thread ----------------------------------------------------------------

/**
 * A keyed relay that requires seat tokens and return paths, polled on its own thread: two
 * components join with minted tokens and exchange datagrams while the subsystem is not ticked
 * at all (only the relay thread forwards); then the events reach the game thread, the
 * counters are readable, a command runs on the relay thread, draining ends in a Drained
 * event, and Deinitialize joins the thread and frees the port.
 */
static void RelayThreadForwardsWithoutGameThreadTicks()
{
	UUdpRelaySettings& Settings = ResetSettings();
	Settings.bTickRelayOnOwnThread = true;
	Settings.SecretKeyBase64 = TestKeyBase64(32);
	Settings.bRequireTokens = true;
	Settings.bRequireReturnPath = true;
	Settings.InactivityTimeoutMs = 300;
	const int32 ThreadsBefore = UeStub::RunningThreads.load();

	UUdpRelaySubsystem Subsystem;
	FEventLog Events;
	Listen(Subsystem, Events);
	FSubsystemCollectionBase Collection;
	Subsystem.Initialize(Collection);
	Expect(Subsystem.IsRelayRunning() && Subsystem.IsRelayThreadRunning(), "thread option: relay runs on its own thread",
		Utf8(Subsystem.GetLastError()));
	Expect(UeStub::RunningThreads.load() == ThreadsBefore + 1, "one relay thread started");
	Expect(Subsystem.GetRelayPort() > 0, "the port is known");
	Expect(UeStub::LogContains(TEXT("polled on its own thread")), "the log says where the relay is polled");
	if (!Subsystem.IsRelayThreadRunning())
	{
		Subsystem.Deinitialize();
		return;
	}

	const udp_relay::Result<udp_relay::Guid> Guid = udp_relay::Guid::generate();
	const FString GuidText = UdpRelayNative::ToFString(*Guid);
	FString TokenA;
	FString TokenB;
	FString Error;
	const int64 Expiry = static_cast<int64>(std::time(nullptr)) + 600;
	Expect(UUdpRelaySubsystem::MintSeatToken(GuidText, EUdpRelaySeat::A, Expiry, TokenA, Error), "mint seat A", Utf8(Error));
	Expect(UUdpRelaySubsystem::MintSeatToken(GuidText, EUdpRelaySeat::B, Expiry, TokenB, Error), "mint seat B", Utf8(Error));
	TArray<uint8> TokenBytes;
	Expect(FBase64::Decode(TokenA, TokenBytes) && TokenBytes.Num() == RELAY_TOKEN_LEN, "a token is RELAY_TOKEN_LEN bytes as base64");
	Expect(TokenA != TokenB, "each seat has its own token");
	FString Unused;
	Expect(!UUdpRelaySubsystem::MintSeatToken(TEXT("not a guid"), EUdpRelaySeat::A, Expiry, Unused, Error) && !Error.IsEmpty(),
		"minting for a malformed GUID fails with a reason");

	UUdpRelayClientComponent PeerA;
	UUdpRelayClientComponent PeerB;
	FComponentListener ListenerA;
	FComponentListener ListenerB;
	PeerA.OnStateChanged.AddDynamic(&ListenerA, &FComponentListener::OnStateChanged);
	PeerB.OnDatagramReceived.AddDynamic(&ListenerB, &FComponentListener::OnDatagramReceived);
	for (UUdpRelayClientComponent* Peer : {&PeerA, &PeerB})
	{
		Peer->RelayAddress = RelayAddressOf(Subsystem);
		Peer->KeepaliveIntervalMs = 100;
	}
	PeerA.SeatTokenBase64 = TokenA;
	PeerB.SeatTokenBase64 = TokenB;
	Expect(PeerA.JoinChannel(GuidText) && PeerB.JoinChannel(GuidText), "both peers join with their tokens",
		Utf8(PeerA.GetLastError() + PeerB.GetLastError()));

	// No subsystem tick from here until the datagram arrived: only the relay thread forwards.
	const bool bEstablished = Within(5.0, [&]
	{
		TickComponent(PeerA);
		TickComponent(PeerB);
		return PeerA.GetState() == EUdpRelayClientState::Established && PeerB.GetState() == EUdpRelayClientState::Established;
	});
	Expect(bEstablished, "established through the relay thread with the subsystem never ticked",
		Utf8(PeerA.GetLastError() + PeerB.GetLastError()));
	Expect(!ListenerA.States.empty() && ListenerA.States.back() == EUdpRelayClientState::Established, "OnStateChanged said Established");
	Expect(Events.Kinds.empty(), "no event delivered before the subsystem ticks");

	const std::string Payload = "threaded hello";
	TArray<uint8> Datagram;
	Datagram.Append(reinterpret_cast<const uint8*>(Payload.data()), static_cast<int32>(Payload.size()));
	Expect(PeerA.Send(Datagram), "A sends", Utf8(PeerA.GetLastError()));
	const bool bDelivered = Within(5.0, [&]
	{
		TickComponent(PeerA);
		TickComponent(PeerB);
		return !ListenerB.Received.empty();
	});
	Expect(bDelivered && ListenerB.Received.front() == Payload, "B received the datagram, forwarded by the relay thread");

	const bool bEventsDelivered = Within(5.0, [&]
	{
		TickSubsystem(Subsystem);
		return Events.Has(udp_relay::EventKind::ChannelEstablished);
	});
	Expect(bEventsDelivered && Events.Has(udp_relay::EventKind::ChannelAllocated), "allocated and established events delivered on tick");
	Expect(Events.bAllOnGameThread, "every OnRelayEvent broadcast ran on the game thread");
	Expect(UeStub::LogContains(TEXT("established:")), "channel events logged on the game thread");

	const bool bCounted = Within(5.0, [&]
	{
		return Subsystem.GetOpenChannelCount() == 1;
	});
	const udp_relay::Result<udp_relay::Stats> Stats = Subsystem.GetRelayStats();
	Expect(bCounted && Stats.has_value() && Stats->datagrams_out >= 1 && Stats->channels_allocated_total == 1,
		"counters published by the relay thread", Stats ? std::to_string(Stats->datagrams_out) : Stats.status().toString());

	std::atomic<bool> bRan{false};
	std::atomic<bool> bRanOnRelayThread{false};
	Subsystem.RunOnRelay([&bRan, &bRanOnRelayThread](udp_relay::Relay& Relay)
	{
		bRanOnRelayThread = std::this_thread::get_id() != GGameThread && Relay.valid();
		bRan = true;
	});
	Expect(Within(5.0, [&] { return bRan.load(); }) && bRanOnRelayThread.load(), "RunOnRelay ran the command on the relay thread");

	// Drain, then let the channel expire: the relay thread queues Drained, the tick delivers it.
	Subsystem.DrainRelay();
	PeerA.Leave();
	PeerB.Leave();
	const bool bDrained = Within(5.0, [&]
	{
		TickSubsystem(Subsystem);
		return Events.Has(udp_relay::EventKind::Drained);
	});
	Expect(bDrained && Events.Has(udp_relay::EventKind::ChannelClosed), "DrainRelay: closed, then Drained, delivered on tick");

	const int32 Port = Subsystem.GetRelayPort();
	const auto StopStarted = FClock::now();
	Subsystem.Deinitialize();
	const double StopSeconds = std::chrono::duration<double>(FClock::now() - StopStarted).count();
	Expect(!Subsystem.IsRelayRunning() && !Subsystem.IsRelayThreadRunning() && Subsystem.GetRelayPort() == 0,
		"Deinitialize stops the relay and its thread");
	Expect(UeStub::RunningThreads.load() == ThreadsBefore, "the relay thread ended (joined)");
	Expect(StopSeconds < 2.0, "the stop did not hang", std::to_string(StopSeconds) + " s");
	Expect(PortIsFree(Port), "the relay's port is free again");
	Expect(UeStub::LogContains(TEXT("Embedded relay stopping:")), "final counters logged after the thread stopped");
	Subsystem.StopRelay();
	Expect(!Subsystem.IsRelayRunning(), "StopRelay again is harmless");
}

/** A relay that requires tokens refuses a plain join: the component times out. */
static void TokensAreRequiredWhenSet()
{
	UUdpRelaySettings& Settings = ResetSettings();
	Settings.bTickRelayOnOwnThread = true;
	Settings.SecretKeyBase64 = TestKeyBase64(16);
	Settings.bRequireTokens = true;
	UUdpRelaySubsystem Subsystem;
	FSubsystemCollectionBase Collection;
	Subsystem.Initialize(Collection);

	UUdpRelayClientComponent Plain;
	Plain.RelayAddress = RelayAddressOf(Subsystem);
	Plain.HandshakeTimeoutMs = 300;
	const bool bJoined = Plain.JoinChannel(UUdpRelayClientComponent::NewChannelGuid());
	const bool bTimedOut = Within(5.0, [&]
	{
		TickComponent(Plain);
		TickSubsystem(Subsystem);
		return Plain.GetState() != EUdpRelayClientState::Handshaking;
	});
	Expect(bJoined && bTimedOut && Plain.GetState() == EUdpRelayClientState::TimedOut, "a plain handshake is refused: TimedOut",
		Utf8(Plain.GetLastError()));
	const udp_relay::Result<udp_relay::Stats> Stats = Subsystem.GetRelayStats();
	Expect(Stats.has_value() && Stats->tokens_invalid > 0 && Stats->channels_allocated_total == 0, "counted as tokens_invalid");

	UUdpRelayClientComponent BadToken;
	BadToken.RelayAddress = RelayAddressOf(Subsystem);
	BadToken.SeatTokenBase64 = TEXT("%%%");
	Expect(!BadToken.JoinChannel(UUdpRelayClientComponent::NewChannelGuid()) && BadToken.GetLastError().Contains(TEXT("seat token")),
		"a malformed token is refused by name", Utf8(BadToken.GetLastError()));
	UUdpRelayClientComponent ShortToken;
	ShortToken.RelayAddress = RelayAddressOf(Subsystem);
	ShortToken.SeatTokenBase64 = TEXT("AQID");
	Expect(!ShortToken.JoinChannel(UUdpRelayClientComponent::NewChannelGuid()) && ShortToken.GetState() == EUdpRelayClientState::Failed,
		"a token of the wrong size: the library refuses the join", Utf8(ShortToken.GetLastError()));
	Subsystem.Deinitialize();
}

/** A handler that stops the relay while the thread's events are delivered. */
static void StoppingFromAnEventHandlerIsSafe()
{
	UUdpRelaySettings& Settings = ResetSettings();
	Settings.bTickRelayOnOwnThread = true;
	UUdpRelaySubsystem Subsystem;
	int32 Handled = 0;
	Subsystem.OnRelayEvent.AddLambda([&Subsystem, &Handled](const udp_relay::Event&)
	{
		++Handled;
		Subsystem.StopRelay();
	});
	FSubsystemCollectionBase Collection;
	Subsystem.Initialize(Collection);
	UUdpRelayClientComponent Peer;
	Peer.RelayAddress = RelayAddressOf(Subsystem);
	Peer.JoinChannel(UUdpRelayClientComponent::NewChannelGuid());
	const bool bStopped = Within(5.0, [&]
	{
		TickComponent(Peer);
		TickSubsystem(Subsystem);
		return !Subsystem.IsRelayRunning();
	});
	Expect(bStopped && Handled == 1 && !Subsystem.IsRelayThreadRunning(), "StopRelay inside OnRelayEvent: stopped, one event handled");
	// As AActor::EndPlay does, through the base class (the override is protected).
	static_cast<UActorComponent&>(Peer).EndPlay(EEndPlayReason::Destroyed);
	Expect(Peer.GetState() == EUdpRelayClientState::Idle, "EndPlay leaves the channel");
	Subsystem.Deinitialize();
}

// ---- the relay on the game thread -------------------------------------------------------------

static void GameThreadRelayForwardsWhenTicked()
{
	ResetSettings();
	UUdpRelaySubsystem Subsystem;
	FEventLog Events;
	Listen(Subsystem, Events);
	FSubsystemCollectionBase Collection;
	Subsystem.Initialize(Collection);
	Expect(Subsystem.IsRelayRunning() && !Subsystem.IsRelayThreadRunning(), "default: relay polled on the game thread");

	const FString GuidText = UUdpRelayClientComponent::NewChannelGuid();
	UUdpRelayClientComponent PeerA;
	UUdpRelayClientComponent PeerB;
	FComponentListener ListenerB;
	PeerB.OnDatagramReceived.AddDynamic(&ListenerB, &FComponentListener::OnDatagramReceived);
	PeerA.RelayAddress = RelayAddressOf(Subsystem);
	PeerB.RelayAddress = RelayAddressOf(Subsystem);
	Expect(PeerA.JoinChannel(GuidText) && PeerB.JoinChannel(GuidText), "plain peers join");
	const bool bEstablished = Within(5.0, [&]
	{
		TickSubsystem(Subsystem);
		TickComponent(PeerA);
		TickComponent(PeerB);
		return PeerA.GetState() == EUdpRelayClientState::Established && PeerB.GetState() == EUdpRelayClientState::Established;
	});
	Expect(bEstablished, "established with the relay ticked on the game thread");
	const uint8 Bytes[] = {1, 2, 3};
	Expect(PeerA.SendBytes(Bytes, 3), "A sends 3 bytes");
	const bool bDelivered = Within(5.0, [&]
	{
		TickSubsystem(Subsystem);
		TickComponent(PeerA);
		TickComponent(PeerB);
		return !ListenerB.Received.empty();
	});
	Expect(bDelivered && ListenerB.Received.front() == std::string("\x01\x02\x03", 3), "B received them");
	Expect(Events.Has(udp_relay::EventKind::ChannelEstablished) && Events.bAllOnGameThread, "events delivered on the game thread");
	Expect(Subsystem.GetOpenChannelCount() == 1, "open channels read from the relay");
	bool bRanAtOnce = false;
	Subsystem.RunOnRelay([&bRanAtOnce](udp_relay::Relay&) { bRanAtOnce = true; });
	Expect(bRanAtOnce, "RunOnRelay runs at once on the game thread");
	Subsystem.Deinitialize();
	Expect(!Subsystem.IsRelayRunning() && !Subsystem.IsTickable(), "stopped and no longer tickable");
}

/** Without multithreading, the thread option falls back to the game thread. */
static void NoThreadsFallsBackToTheGameThread()
{
	UUdpRelaySettings& Settings = ResetSettings();
	Settings.bTickRelayOnOwnThread = true;
	UeStub::bSupportsMultithreading = false;
	UUdpRelaySubsystem Subsystem;
	FSubsystemCollectionBase Collection;
	Subsystem.Initialize(Collection);
	Expect(Subsystem.IsRelayRunning() && !Subsystem.IsRelayThreadRunning(), "no multithreading: relay runs, polled on the game thread");
	Expect(UeStub::LogContains(TEXT("polling it on the game thread")), "the fallback is logged");
	TickSubsystem(Subsystem);
	Expect(Subsystem.IsRelayRunning(), "ticks on the game thread");
	Subsystem.Deinitialize();
	UeStub::bSupportsMultithreading = true;
}

/** The thread on its own: a stop right after the start, and no thread without multithreading. */
static void RelayThreadStartsAndStops()
{
	udp_relay::RelayConfigBuilder Config;
	Config.port(0).bindAddress("127.0.0.1");
	udp_relay::Result<udp_relay::Relay> Started = udp_relay::Relay::start(Config);
	Expect(Started.has_value(), "relay for the bare thread");
	if (!Started)
	{
		return;
	}
	udp_relay::Relay Relay = MoveTemp(Started).value();
	for (int Round = 0; Round < 20; ++Round)
	{
		TUniquePtr<FUdpRelayThread> Thread = FUdpRelayThread::Start(Relay);
		if (!Thread.IsValid())
		{
			Expect(false, "thread started");
			return;
		}
		FString Failure;
		if (Thread->GetFailure(Failure))
		{
			Expect(false, "no failure", Utf8(Failure));
			return;
		}
	}
	Expect(UeStub::RunningThreads.load() == 0, "20 threads started and joined at once");
	UeStub::bSupportsMultithreading = false;
	Expect(!FUdpRelayThread::Start(Relay).IsValid(), "no thread without multithreading");
	UeStub::bSupportsMultithreading = true;
	Expect(Relay.poll(0).has_value(), "the relay is usable again after the thread");
}

/** Picking a relay with MeasureRelays, then following the game from a stopped relay to another with RejoinChannel. */
static void MeasuringAndFollowingRelays()
{
	ResetSettings();
	udp_relay::RelayConfigBuilder Config;
	Config.port(0).bindAddress("127.0.0.1");
	udp_relay::Result<udp_relay::Relay> Started1 = udp_relay::Relay::start(Config);
	udp_relay::Result<udp_relay::Relay> Started2 = udp_relay::Relay::start(Config);
	udp_relay::Result<udp_relay::Relay> Started3 = udp_relay::Relay::start(Config);
	Expect(Started1.has_value() && Started2.has_value() && Started3.has_value(), "three relays for following");
	if (!Started1 || !Started2 || !Started3)
	{
		return;
	}
	udp_relay::Relay First = MoveTemp(Started1).value();
	udp_relay::Relay Second = MoveTemp(Started2).value();
	udp_relay::Relay Draining = MoveTemp(Started3).value();
	auto AddressOf = [](const udp_relay::Relay& Relay)
	{
		return FString(UTF8_TO_TCHAR(("127.0.0.1:" + std::to_string(Relay.localPort())).c_str()));
	};
	const FString FirstAddress = AddressOf(First);
	const FString SecondAddress = AddressOf(Second);
	const FString DrainingAddress = AddressOf(Draining);
	Expect(Draining.drain().ok(), "the third relay drains");
	TUniquePtr<FUdpRelayThread> FirstThread = FUdpRelayThread::Start(First);
	TUniquePtr<FUdpRelayThread> SecondThread = FUdpRelayThread::Start(Second);
	TUniquePtr<FUdpRelayThread> DrainingThread = FUdpRelayThread::Start(Draining);
	if (!FirstThread.IsValid() || !SecondThread.IsValid() || !DrainingThread.IsValid())
	{
		Expect(false, "relay threads start");
		return;
	}

	const TArray<FUdpRelayMeasurement> Measured = UUdpRelayClientComponent::MeasureRelays(
		{FirstAddress, SecondAddress, DrainingAddress, TEXT("not an address")}, 2, 500);
	Expect(Measured.Num() == 4, "MeasureRelays: one measurement per relay", std::to_string(Measured.Num()));
	if (Measured.Num() != 4)
	{
		return;
	}
	Expect(Measured[0].bAnswered && Measured[0].bResolved && Measured[0].State == EUdpRelayProbeState::Accepting
			&& Measured[0].RttMs > 0.0f && Measured[0].Replies == 2 && Measured[0].RelayAddress == FirstAddress,
		"the first relay accepts, with a round trip");
	Expect(Measured[2].bAnswered && Measured[2].State == EUdpRelayProbeState::Draining, "the draining relay says so");
	Expect(!Measured[3].bResolved && !Measured[3].bAnswered && Measured[3].ProbesSent == 0, "a text that does not resolve");
	const int32 Nearest = UUdpRelayClientComponent::NearestRelay(Measured);
	Expect(Nearest == 0 || Nearest == 1, "NearestRelay picks an accepting relay", std::to_string(Nearest));
	Expect(UUdpRelayClientComponent::MeasureRelays({FirstAddress}, 0, 500).Num() == 0, "0 attempts: nothing measured");

	UUdpRelayClientComponent PeerA;
	UUdpRelayClientComponent PeerB;
	FComponentListener ListenerA;
	FComponentListener ListenerB;
	PeerA.OnStateChanged.AddDynamic(&ListenerA, &FComponentListener::OnStateChanged);
	PeerB.OnDatagramReceived.AddDynamic(&ListenerB, &FComponentListener::OnDatagramReceived);
	for (UUdpRelayClientComponent* Peer : {&PeerA, &PeerB})
	{
		Peer->RelayAddress = FirstAddress;
		Peer->KeepaliveIntervalMs = 100;
		Peer->PeerTimeoutMs = 400;
	}
	const FString FirstGuid = UUdpRelayClientComponent::NewChannelGuid();
	Expect(PeerA.JoinChannel(FirstGuid) && PeerB.JoinChannel(FirstGuid), "both peers join the first relay");
	auto BothAre = [&](EUdpRelayClientState State)
	{
		return Within(5.0, [&]
		{
			TickComponent(PeerA);
			TickComponent(PeerB);
			return PeerA.GetState() == State && PeerB.GetState() == State;
		});
	};
	Expect(BothAre(EUdpRelayClientState::Established), "established on the first relay");
	const int32 PortA = PeerA.GetLocalPort();
	const int32 PortB = PeerB.GetLocalPort();

	FirstThread.Reset();
	Expect(First.stop().ok(), "the first relay is killed");
	Expect(BothAre(EUdpRelayClientState::Lost), "both peers notice: Lost", Utf8(PeerA.GetLastError()));
	Expect(!ListenerA.States.empty() && ListenerA.States.back() == EUdpRelayClientState::Lost, "OnStateChanged said Lost");
	Expect(PeerA.GetLocalPort() == PortA, "a lost client keeps its socket");

	Expect(!PeerA.RejoinChannel(SecondAddress, TEXT("not a guid"), FString()) && PeerA.GetState() == EUdpRelayClientState::Lost,
		"a rejoin with a malformed GUID fails and changes nothing", Utf8(PeerA.GetLastError()));
	UUdpRelayClientComponent Fresh;
	Expect(!Fresh.RejoinChannel(SecondAddress, FirstGuid, FString()) && Fresh.GetLastError().Contains(TEXT("JoinChannel"))
			&& Fresh.GetState() == EUdpRelayClientState::Idle,
		"a rejoin before any join fails, naming JoinChannel");

	const FString SecondGuid = UUdpRelayClientComponent::NewChannelGuid();
	Expect(PeerA.RejoinChannel(SecondAddress, SecondGuid, FString()) && PeerB.RejoinChannel(SecondAddress, SecondGuid, FString()),
		"both rejoin the second relay", Utf8(PeerA.GetLastError() + PeerB.GetLastError()));
	Expect(PeerA.GetState() == EUdpRelayClientState::Handshaking && PeerA.GetChannelGuid() == SecondGuid
			&& PeerA.RelayAddress == SecondAddress,
		"handshaking for the new channel");
	Expect(PeerA.GetLocalPort() == PortA && PeerB.GetLocalPort() == PortB, "from the same sockets");
	Expect(BothAre(EUdpRelayClientState::Established), "established on the second relay");
	const uint8 Bytes[] = {7, 8, 9};
	Expect(PeerA.SendBytes(Bytes, 3), "A sends through the second relay", Utf8(PeerA.GetLastError()));
	Expect(Within(5.0, [&]
		{
			TickComponent(PeerA);
			TickComponent(PeerB);
			return !ListenerB.Received.empty();
		}) && ListenerB.Received.back() == std::string("\x07\x08\x09", 3),
		"B receives it");
	PeerA.Leave();
	PeerB.Leave();
	Expect(PeerA.GetLocalPort() == 0, "Leave closes the socket");
	SecondThread.Reset();
	DrainingThread.Reset();
}

int main()
{
	Expect(FModuleManager::LoadModule(TEXT("UdpRelay")), "module loads");
	Expect(FUdpRelayModule::IsLibraryReady(), "library ready (ABI matches)");

	SettingsDefaultsAreTheLibrarys();
	SettingsReachTheRelayConfig();
	SettingsRefuseWhatTheyCannotMap();
	RelayThreadStartsAndStops();
	RelayThreadForwardsWithoutGameThreadTicks();
	TokensAreRequiredWhenSet();
	StoppingFromAnEventHandlerIsSafe();
	GameThreadRelayForwardsWhenTicked();
	NoThreadsFallsBackToTheGameThread();
	MeasuringAndFollowingRelays();

	Expect(UeStub::LogCount(ELogVerbosity::Error) == 0, "nothing logged as an error", std::to_string(UeStub::LogCount(ELogVerbosity::Error)));
	FModuleManager::UnloadModule(TEXT("UdpRelay"));
	Expect(!FUdpRelayModule::IsLibraryReady(), "module unloads");

	std::printf("%d passed, %d failed\n", GPassed, GFailed);
	return GFailed == 0 ? 0 : 1;
}
