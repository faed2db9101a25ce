// Runs an embedded udp-relay inside the game instance: on dedicated servers when the settings
// enable it (or everywhere when forced), ticked on the game thread every frame.

#pragma once

#include "CoreMinimal.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "Tickable.h"
#include "UdpRelayNative.h"
#include "UdpRelaySubsystem.generated.h"

/** Which seat of a channel a seat token admits: each of the two peers gets its own. */
UENUM(BlueprintType)
enum class EUdpRelaySeat : uint8
{
	/** The first peer (RELAY_TOKEN_ROLE_A). */
	A,
	/** The second peer (RELAY_TOKEN_ROLE_B). */
	B,
};

UCLASS()
class UDPRELAY_API UUdpRelaySubsystem : public UGameInstanceSubsystem, public FTickableGameObject
{
	GENERATED_BODY()

public:
	// USubsystem
	virtual void Initialize(FSubsystemCollectionBase& Collection) override;
	virtual void Deinitialize() override;

	// FTickableGameObject: relay_poll(relay, 0) and the event queue, once per frame.
	virtual void Tick(float DeltaTime) override;
	virtual ETickableTickType GetTickableTickType() const override;
	virtual bool IsTickable() const override;
	virtual bool IsTickableWhenPaused() const override { return true; }
	virtual TStatId GetStatId() const override;

	/** Starts the relay with the project settings; true if it runs. Errors go to the log and GetLastError. */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	bool StartRelay();

	/** Stops the relay; open channels end at once. Harmless when it is not running. */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	void StopRelay();

	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	bool IsRelayRunning() const;

	/** The UDP port the relay is bound to, or 0 when it is not running. */
	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	int32 GetRelayPort() const;

	/** Channels open now (pending and established). */
	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	int32 GetOpenChannelCount() const;

	/**
	 * Matchmaker side: mints the seat token of Seat in channel ChannelGuid with the settings'
	 * secret key (the relay's), accepted until ExpiryUnixSeconds on the relay's wall clock.
	 * Hand it to that peer only (it is its secret) over an authenticated connection; the peer
	 * sets it as UUdpRelayClientComponent::SeatTokenBase64. False, with OutError, without a key
	 * or with a malformed GUID.
	 */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	static bool MintSeatToken(const FString& ChannelGuid, EUdpRelaySeat Seat, int64 ExpiryUnixSeconds, FString& OutSeatTokenBase64, FString& OutError);

	/** Why the last start or tick failed, empty if none did. */
	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	FString GetLastError() const { return LastError; }

	/** Every relay event, on the game thread, during Tick (C++ only). */
	DECLARE_MULTICAST_DELEGATE_OneParam(FOnRelayEvent, const udp_relay::Event&);
	FOnRelayEvent OnRelayEvent;

	/** The relay itself for C++ callers (stats, channel counters, drain); empty when not running. */
	udp_relay::Relay& GetRelay() { return EmbeddedRelay; }

private:
	void LogEvent(const udp_relay::Event& Event) const;

	/** Owned here; stopped by StopRelay, Deinitialize or destruction. */
	udp_relay::Relay EmbeddedRelay;
	FString LastError;
	bool bLogChannelEvents = true;
};
