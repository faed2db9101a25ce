// Project Settings > Plugins > UDP Relay, saved to Config/DefaultGame.ini.

#pragma once

#include "CoreMinimal.h"
#include "Engine/DeveloperSettings.h"
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
	 * The relay's secret key for the handshake HMAC, as base64 of the raw bytes; empty for an
	 * unkeyed relay. DefaultGame.ini ships with clients too: on servers prefer the command
	 * line, -UdpRelaySecretKey=<base64>, which overrides this.
	 */
	UPROPERTY(config, EditAnywhere, Category = "Security")
	FString SecretKeyBase64;

	/** Relay a UUdpRelayClientComponent joins when its RelayAddress is empty ("host:port"). */
	UPROPERTY(config, EditAnywhere, Category = "Client")
	FString DefaultRelayAddress;

	virtual FName GetCategoryName() const override { return TEXT("Plugins"); }

	/** The secret key in effect: -UdpRelaySecretKey= on the command line, else SecretKeyBase64. */
	FString GetSecretKeyBase64() const;

	/**
	 * Decodes base64 key text into raw bytes (empty text: no key). False, with a reason in
	 * OutError, when the text is not base64.
	 */
	static bool DecodeKey(const FString& Base64, TArray<uint8>& OutKey, FString& OutError);
};
