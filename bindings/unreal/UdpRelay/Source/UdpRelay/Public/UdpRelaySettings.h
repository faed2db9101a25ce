// Project Settings > Plugins > UDP Relay, saved to Config/DefaultGame.ini.

#pragma once

#include "CoreMinimal.h"
#include "Engine/DeveloperSettings.h"
#include "UdpRelayNative.h"
#include "UdpRelaySettings.generated.h"

UCLASS(config = Game, defaultconfig, meta = (DisplayName = "UDP Relay"))
class UDPRELAY_API UUdpRelaySettings : public UDeveloperSettings
{
	GENERATED_BODY()

public:
	/** Start the embedded relay in UUdpRelaySubsystem when the game runs as a dedicated server. */
	UPROPERTY(config, EditAnywhere, Category = "Embedded Relay")
	bool bEnableOnDedicatedServer = false;

	/** Start the embedded relay in every game instance (listen servers, clients, PIE): for tests. */
	UPROPERTY(config, EditAnywhere, Category = "Embedded Relay")
	bool bForceEmbeddedRelay = false;

	/** UDP port the relay binds; 0 picks a free one (see UUdpRelaySubsystem::GetRelayPort). */
	UPROPERTY(config, EditAnywhere, Category = "Embedded Relay", meta = (ClampMin = "0", ClampMax = "65535"))
	int32 Port = 6060;

	/** IP address to bind, e.g. 0.0.0.0 or 127.0.0.1. Empty binds dual-stack "::" (IPv4 and IPv6). */
	UPROPERTY(config, EditAnywhere, Category = "Embedded Relay")
	FString BindAddress;

	/** A channel closes after this many milliseconds without traffic. */
	UPROPERTY(config, EditAnywhere, Category = "Embedded Relay", meta = (ClampMin = "1"))
	int32 InactivityTimeoutMs = 30000;

	/** New channels are refused while this many are open. */
	UPROPERTY(config, EditAnywhere, Category = "Embedded Relay", meta = (ClampMin = "1"))
	int32 MaxChannels = 100000;

	/** Log every channel allocated, established and closed (LogUdpRelay, Log verbosity). */
	UPROPERTY(config, EditAnywhere, Category = "Embedded Relay")
	bool bLogChannelEvents = true;

	/**
	 * Poll the relay on a thread of its own (FRunnable) instead of once per frame on the game
	 * thread, so a datagram is forwarded when it arrives, not at the next frame (up to 33 ms
	 * later on a 30 Hz server). Events still reach OnRelayEvent and the log on the game thread.
	 * For dedicated servers at low tick rates; see the plugin README.
	 */
	UPROPERTY(config, EditAnywhere, Category = "Embedded Relay")
	bool bTickRelayOnOwnThread = false;

	/**
	 * With the relay on its own thread: microseconds a poll lets datagrams gather after one that
	 * found the socket nearly empty, so the thread wakes once for many datagrams instead of once
	 * each (less CPU at game rates), for up to this much more latency per pass through the relay.
	 * Polls on the game thread never wait, so it has no effect there. 0 (the default) to 5000.
	 */
	UPROPERTY(config, EditAnywhere, Category = "Embedded Relay", meta = (ClampMin = "0", ClampMax = "5000"))
	int32 CoalesceWindowUs = 0;

	/** Handshakes per second one source (an IPv4 address or an IPv6 /64) may have verified; the excess is dropped. 0 = unlimited. */
	UPROPERTY(config, EditAnywhere, Category = "Limits", meta = (ClampMin = "0"))
	int32 HandshakeRatePerSource = 200;

	/** Handshakes one source may send in a burst above that rate; at least 1 while the rate is limited. */
	UPROPERTY(config, EditAnywhere, Category = "Limits", meta = (ClampMin = "1"))
	int32 HandshakeBurstPerSource = 1000;

	/** Half-open (one-peer) channels one source may hold; more are refused. 0 = unlimited. */
	UPROPERTY(config, EditAnywhere, Category = "Limits", meta = (ClampMin = "0"))
	int32 MaxPendingPerSource = 512;

	/** Sources whose handshake rate is tracked at once (about 64 bytes each). */
	UPROPERTY(config, EditAnywhere, Category = "Limits", meta = (ClampMin = "1", ClampMax = "16777216"))
	int32 MaxTrackedSources = 65536;

	/** Bytes per second each direction of a channel may carry; the excess is dropped. 0 = no cap. */
	UPROPERTY(config, EditAnywhere, Category = "Limits", meta = (ClampMin = "0"))
	int32 ChannelBandwidthBytesPerSec = 0;

	/**
	 * The relay's secret key for the handshake HMAC, as base64 of the raw bytes; empty for an
	 * unkeyed relay. DefaultGame.ini ships with clients too: on servers prefer the command
	 * line, -UdpRelaySecretKey=<base64>, which overrides this.
	 */
	UPROPERTY(config, EditAnywhere, Category = "Security")
	FString SecretKeyBase64;

	/**
	 * Admit only handshakes carrying a valid seat token, minted per peer by the matchmaker with
	 * the secret key (UUdpRelaySubsystem::MintSeatToken); needs a secret key. Peers join with
	 * UUdpRelayClientComponent::SeatTokenBase64.
	 */
	UPROPERTY(config, EditAnywhere, Category = "Security")
	bool bRequireTokens = false;

	/**
	 * Plain (token-less) handshakes too must prove their return path by echoing the relay's
	 * cookie before anything is forwarded to their address; token handshakes always must.
	 * This plugin's client component answers; other v0.8 clients cannot.
	 */
	UPROPERTY(config, EditAnywhere, Category = "Security")
	bool bRequireReturnPath = false;

	/** Relay a UUdpRelayClientComponent joins when its RelayAddress is empty ("host:port"). */
	UPROPERTY(config, EditAnywhere, Category = "Client")
	FString DefaultRelayAddress;

	virtual FName GetCategoryName() const override { return TEXT("Plugins"); }

	/** The secret key in effect: -UdpRelaySecretKey= on the command line, else SecretKeyBase64. */
	FString GetSecretKeyBase64() const;

	/**
	 * The relay config these settings describe, with the key in effect. False, with a reason in
	 * OutError, when the key is not base64 or a number is negative; every other rule is the
	 * library's, checked when the relay starts.
	 */
	bool ToRelayConfig(udp_relay::RelayConfigBuilder& OutConfig, FString& OutError) const;

	/**
	 * Decodes base64 key text into raw bytes (empty text: no key). False, with a reason in
	 * OutError, when the text is not base64.
	 */
	static bool DecodeKey(const FString& Base64, TArray<uint8>& OutKey, FString& OutError);

	/** DecodeKey for any secret: What names it in OutError ("the seat token"). */
	static bool DecodeBase64(const FString& Base64, const TCHAR* What, TArray<uint8>& OutBytes, FString& OutError);
};
