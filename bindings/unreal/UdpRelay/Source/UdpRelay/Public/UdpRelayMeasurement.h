// What UUdpRelayClientComponent::MeasureRelays reports for one relay: its round-trip time and
// the state it said it is in, for picking the nearest relay accepting channels.

#pragma once

#include "CoreMinimal.h"
#include "UdpRelayMeasurement.generated.h"

/** What a relay said of itself when measured. */
UENUM(BlueprintType)
enum class EUdpRelayProbeState : uint8
{
	/** Admitting new channels: join it. */
	Accepting,
	/** Draining: open channels still relay, new ones are refused. A client there should rejoin elsewhere. */
	Draining,
	/** At its channel limit: new channels are refused until some close. */
	Full,
};

/** One relay's result from MeasureRelays. */
USTRUCT(BlueprintType)
struct UDPRELAY_API FUdpRelayMeasurement
{
	GENERATED_BODY()

	/** The relay as it was given ("host:port"). */
	UPROPERTY(BlueprintReadOnly, Category = "UDP Relay")
	FString RelayAddress;

	/** The relay answered at least one probe; State and RttMs are then meaningful. False: unreachable within the timeout, or the address did not resolve (see bResolved). */
	UPROPERTY(BlueprintReadOnly, Category = "UDP Relay")
	bool bAnswered = false;

	/** The address resolved, so probes were sent. */
	UPROPERTY(BlueprintReadOnly, Category = "UDP Relay")
	bool bResolved = false;

	UPROPERTY(BlueprintReadOnly, Category = "UDP Relay")
	EUdpRelayProbeState State = EUdpRelayProbeState::Accepting;

	/** Median round-trip time of the answered probes, in milliseconds. */
	UPROPERTY(BlueprintReadOnly, Category = "UDP Relay")
	float RttMs = 0.0f;

	UPROPERTY(BlueprintReadOnly, Category = "UDP Relay")
	int32 ProbesSent = 0;

	UPROPERTY(BlueprintReadOnly, Category = "UDP Relay")
	int32 Replies = 0;
};
