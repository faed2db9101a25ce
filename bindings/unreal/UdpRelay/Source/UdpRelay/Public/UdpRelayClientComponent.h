// Joins a udp-relay channel by GUID from an actor, for C++ and Blueprint: the component owns
// the client's UDP socket, polls it every tick on the game thread and broadcasts state
// changes and received datagrams.

#pragma once

#include "CoreMinimal.h"
#include "Components/ActorComponent.h"
#include "UdpRelayMeasurement.h"
#include "UdpRelayNative.h"
#include "UdpRelayClientComponent.generated.h"

/** Where the component's client stands. */
UENUM(BlueprintType)
enum class EUdpRelayClientState : uint8
{
	/** Not joined yet, or left. */
	Idle,
	/** Handshaking with the relay; the peer has not shown up yet. */
	Handshaking,
	/** Paired with the peer: datagrams flow. */
	Established,
	/** The peer did not show up in time. The socket stays: RejoinChannel (another ticket) or JoinChannel to retry. */
	TimedOut,
	/** The client failed (see GetLastError). Join again to retry. */
	Failed,
	/** Was established, then nothing arrived from the relay for PeerTimeoutMs (the relay was killed or restarted, or the peer is gone). The socket stays: ask the matchmaker for a new ticket and call RejoinChannel. */
	Lost,
};

DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FUdpRelayStateChangedSignature, EUdpRelayClientState, NewState);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FUdpRelayDatagramReceivedSignature, const TArray<uint8>&, Datagram);

UCLASS(ClassGroup = (Networking), meta = (BlueprintSpawnableComponent))
class UDPRELAY_API UUdpRelayClientComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	UUdpRelayClientComponent();

	/** The relay as "host:port" ("[v6]:port" for IPv6); empty uses the settings' DefaultRelayAddress. A host name is resolved on the game thread when joining. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "UDP Relay")
	FString RelayAddress;

	/** The relay's secret key as base64; empty uses the settings' key. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "UDP Relay")
	FString SecretKeyBase64;

	/**
	 * This peer's seat token as base64, from the matchmaker (UUdpRelaySubsystem::MintSeatToken
	 * or the library's relay_token_mint), for a relay that requires tokens; empty joins with a
	 * plain handshake. Set it before JoinChannel, whose GUID must be the token's. A token
	 * holder needs no secret key. It is this peer's secret: do not log or replicate it.
	 */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "UDP Relay")
	FString SeatTokenBase64;

	/** Give up when the peer has not joined within this many milliseconds. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "UDP Relay", meta = (ClampMin = "1"))
	int32 HandshakeTimeoutMs = 10000;

	/** Send a keep-alive after this long without sending; keep it well inside the relay's inactivity timeout. 0 disables them. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "UDP Relay", meta = (ClampMin = "0"))
	int32 KeepaliveIntervalMs = 5000;

	/** Once established, give up (state Lost) after this many milliseconds without hearing from the relay: it restarted, or the peer is gone. Both peers keep keep-alives on; must be longer than KeepaliveIntervalMs (two to three intervals). 0 never gives up. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "UDP Relay", meta = (ClampMin = "0"))
	int32 PeerTimeoutMs = 0;

	/** Broadcast on the game thread whenever GetState() changes. */
	UPROPERTY(BlueprintAssignable, Category = "UDP Relay")
	FUdpRelayStateChangedSignature OnStateChanged;

	/** Broadcast on the game thread for every datagram from the peer, in order. The array is reused: copy it to keep it. */
	UPROPERTY(BlueprintAssignable, Category = "UDP Relay")
	FUdpRelayDatagramReceivedSignature OnDatagramReceived;

	/** Joins the channel InChannelGuid ("01234567-89ab-cdef-fedc-ba9876543210") through the relay, leaving any earlier one. False (see GetLastError) if it could not start. */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	bool JoinChannel(const FString& InChannelGuid);

	/**
	 * Joins another channel, usually through another relay, keeping the client's socket (its local port) and this
	 * component: when the relay was lost (state Lost) or drains (MeasureRelays says Draining), pass the matchmaker's
	 * new ticket. Works once JoinChannel succeeded, in any state but Idle and Failed. The state becomes Handshaking
	 * (Send returns false until Established); an empty InRelayAddress uses the settings' DefaultRelayAddress, an
	 * empty InSeatTokenBase64 joins with a plain handshake. False (see GetLastError), with nothing changed, for a
	 * malformed GUID or token, an address that does not resolve or a client that never joined.
	 */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	bool RejoinChannel(const FString& InRelayAddress, const FString& InChannelGuid, const FString& InSeatTokenBase64);

	/** Closes the client's socket; the state becomes Idle. Harmless when not joined. */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	void Leave();

	/** Sends one datagram to the peer (at most 65507 bytes). False while not established or when the socket buffer is full (try again next tick). */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	bool Send(const TArray<uint8>& Datagram);

	/** C++: sends Size bytes from Data without building a TArray. */
	bool SendBytes(const uint8* Data, int32 Size);

	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	EUdpRelayClientState GetState() const { return State; }

	/** The local UDP port of the client's socket (the same after RejoinChannel), 0 when not joined. */
	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	int32 GetLocalPort() const { return Client.localPort(); }

	/** The joined channel's GUID, empty when not joined. */
	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	FString GetChannelGuid() const;

	/** Why the last join, send or receive failed; empty if none did. */
	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	FString GetLastError() const { return LastError; }

	/**
	 * Times each relay ("host:port") with up to Attempts probes (1 to 16) within TimeoutMs (1 to 60000) and returns
	 * one measurement per relay, in order; empty if the library is not loaded or an argument is out of range (logged).
	 * Blocks the calling thread: names are resolved, then up to TimeoutMs pass (exactly that long when a relay does
	 * not answer). Call it at a loading screen, or from a worker thread in C++. The probes leave from a socket of
	 * their own, so it works while a component is in a channel.
	 */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	static TArray<FUdpRelayMeasurement> MeasureRelays(const TArray<FString>& RelayAddresses, int32 Attempts, int32 TimeoutMs);

	/** The index of the relay to join: the lowest round trip among those that answered Accepting, or -1. */
	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	static int32 NearestRelay(const TArray<FUdpRelayMeasurement>& Measurements);

	/** A new random channel GUID to hand to both peers (empty if the library is not loaded). */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	static FString NewChannelGuid();

	virtual void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) override;

protected:
	virtual void EndPlay(const EEndPlayReason::Type EndPlayReason) override;

private:
	void SetState(EUdpRelayClientState NewState);
	void Fail(const FString& Message, EUdpRelayClientState NewState);

	/** Owns the socket; empty when not joined. */
	udp_relay::Client Client;
	udp_relay::Guid ChannelGuid;
	EUdpRelayClientState State = EUdpRelayClientState::Idle;
	FString LastError;
	/** RELAY_MAX_DATAGRAM bytes, allocated on the first join and reused. */
	TArray<uint8> ReceiveBuffer;
	/** What OnDatagramReceived passes; its allocation is reused from datagram to datagram. */
	TArray<uint8> Received;
};
