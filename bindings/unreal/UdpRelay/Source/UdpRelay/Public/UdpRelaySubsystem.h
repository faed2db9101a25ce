// Runs an embedded udp-relay inside the game instance: on dedicated servers when the settings
// enable it (or everywhere when forced), polled on the game thread every frame or, when the
// settings ask for it, on a thread of its own (FUdpRelayThread).

#pragma once

#include "CoreMinimal.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "Templates/Function.h"
#include "Templates/UniquePtr.h"
#include "Tickable.h"
#include "UdpRelayNative.h"
#include "UdpRelayThread.h"
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

	// FTickableGameObject, once per frame: relay_poll(relay, 0) and the event queue, or with
	// the relay thread, the events it handed over and whether it failed.
	virtual void Tick(float DeltaTime) override;
	virtual ETickableTickType GetTickableTickType() const override;
	virtual bool IsTickable() const override;
	virtual bool IsTickableWhenPaused() const override { return true; }
	virtual TStatId GetStatId() const override;

	/** Starts the relay with the project settings; true if it runs. Errors go to the log and GetLastError. */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	bool StartRelay();

	/** Stops the relay (and joins its thread); open channels end at once. Harmless when it is not running. */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	void StopRelay();

	/** Stops accepting new channels; open ones keep relaying until they expire, then a Drained event follows. */
	UFUNCTION(BlueprintCallable, Category = "UDP Relay")
	void DrainRelay();

	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	bool IsRelayRunning() const;

	/** True while the relay is polled on its own thread (bTickRelayOnOwnThread, and the thread could start). */
	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	bool IsRelayThreadRunning() const { return RelayThread.IsValid(); }

	/** The UDP port the relay is bound to, or 0 when it is not running. */
	UFUNCTION(BlueprintPure, Category = "UDP Relay")
	int32 GetRelayPort() const { return RelayPort; }

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

	/**
	 * The relay's counters (C++ only): read from the relay on the game thread, or with the
	 * relay thread, as of the end of its latest poll (never waits for it). An error status
	 * when the relay is not running.
	 */
	udp_relay::Result<udp_relay::Stats> GetRelayStats() const;

	/**
	 * Runs Command with the relay where it is polled (C++ only): at once on the game thread, or
	 * on the relay thread before its next poll (a few milliseconds later). There, touch no
	 * UObject; hand results back with AsyncTask(ENamedThreads::GameThread, ...). Dropped when
	 * the relay is not running or stops first.
	 */
	void RunOnRelay(TUniqueFunction<void(udp_relay::Relay&)> Command);

	/**
	 * The relay itself for C++ callers; empty when not running. While the relay thread runs,
	 * prefer GetRelayStats and RunOnRelay: a call through this from the game thread waits for
	 * the relay handle, which the relay thread holds while its poll waits for traffic.
	 */
	udp_relay::Relay& GetRelay() { return EmbeddedRelay; }

private:
	void PollOnGameThread();
	void TakeEventsFromThread();
	void DeliverEvent(const udp_relay::Event& Event);
	void LogEvent(const udp_relay::Event& Event) const;

	/** Owned here; stopped by StopRelay, Deinitialize or destruction (after RelayThread). */
	udp_relay::Relay EmbeddedRelay;
	/** Polls EmbeddedRelay while set; destroyed (joined) before the relay stops. */
	TUniquePtr<FUdpRelayThread> RelayThread;
	/** Kept at start: asking the relay would wait behind the relay thread's poll. */
	int32 RelayPort = 0;
	FString LastError;
	bool bLogChannelEvents = true;
};
