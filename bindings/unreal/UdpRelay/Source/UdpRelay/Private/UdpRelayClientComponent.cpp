#include "UdpRelayClientComponent.h"

#include "UdpRelayLog.h"
#include "UdpRelayModule.h"
#include "UdpRelaySettings.h"

namespace
{
	/** The state a failed poll or receive leaves the component in: a final status has its own. */
	EUdpRelayClientState StateAfterFailure(const udp_relay::Status& Status)
	{
		if (Status.is(RELAY_STATUS_TIMED_OUT))
		{
			return EUdpRelayClientState::TimedOut;
		}
		if (Status.is(RELAY_STATUS_PEER_LOST))
		{
			return EUdpRelayClientState::Lost;
		}
		return EUdpRelayClientState::Failed;
	}
}

UUdpRelayClientComponent::UUdpRelayClientComponent()
{
	PrimaryComponentTick.bCanEverTick = true;
	PrimaryComponentTick.bStartWithTickEnabled = false;
}

bool UUdpRelayClientComponent::JoinChannel(const FString& InChannelGuid)
{
	Leave();
	if (!FUdpRelayModule::IsLibraryReady())
	{
		Fail(TEXT("the udp_relay library is not loaded (see the log)"), EUdpRelayClientState::Failed);
		return false;
	}

	const udp_relay::Result<udp_relay::Guid> ParsedGuid = udp_relay::Guid::parse(TCHAR_TO_UTF8(*InChannelGuid));
	if (!ParsedGuid)
	{
		Fail(UdpRelayNative::ToFString(ParsedGuid.status()), EUdpRelayClientState::Failed);
		return false;
	}

	const UUdpRelaySettings* Settings = GetDefault<UUdpRelaySettings>();
	const FString Address = RelayAddress.IsEmpty() ? Settings->DefaultRelayAddress : RelayAddress;
	if (Address.IsEmpty())
	{
		Fail(TEXT("no relay address: set RelayAddress or the settings' DefaultRelayAddress"), EUdpRelayClientState::Failed);
		return false;
	}
	TArray<uint8> Key;
	TArray<uint8> Token;
	FString DecodeError;
	if (!UUdpRelaySettings::DecodeKey(SecretKeyBase64.IsEmpty() ? Settings->GetSecretKeyBase64() : SecretKeyBase64, Key, DecodeError)
		|| !UUdpRelaySettings::DecodeBase64(SeatTokenBase64, TEXT("the seat token"), Token, DecodeError))
	{
		FMemory::Memzero(Key.GetData(), Key.Num());
		Fail(DecodeError, EUdpRelayClientState::Failed);
		return false;
	}

	udp_relay::ClientConfigBuilder Config;
	Config.relayAddress(TCHAR_TO_UTF8(*Address))
		.guid(*ParsedGuid)
		.secretKey(UdpRelayNative::ToByteView(Key))
		.token(UdpRelayNative::ToByteView(Token))
		.handshakeTimeoutMs(static_cast<uint32_t>(FMath::Max(HandshakeTimeoutMs, 1)))
		.keepaliveIntervalMs(static_cast<uint32_t>(FMath::Max(KeepaliveIntervalMs, 0)))
		.peerTimeoutMs(static_cast<uint32_t>(FMath::Max(PeerTimeoutMs, 0)));
	// The builder copied both secrets.
	FMemory::Memzero(Key.GetData(), Key.Num());
	FMemory::Memzero(Token.GetData(), Token.Num());

	udp_relay::Result<udp_relay::Client> Connected = udp_relay::Client::connect(Config);
	if (!Connected)
	{
		Fail(UdpRelayNative::ToFString(Connected.status()), EUdpRelayClientState::Failed);
		return false;
	}
	Client = MoveTemp(Connected).value();
	ChannelGuid = *ParsedGuid;
	LastError.Reset();
	if (ReceiveBuffer.Num() == 0)
	{
		ReceiveBuffer.SetNumUninitialized(RELAY_MAX_DATAGRAM);
	}
	SetComponentTickEnabled(true);
	UE_LOG(LogUdpRelay, Log, TEXT("Joining channel %s via %s"), *InChannelGuid, *Address);
	SetState(EUdpRelayClientState::Handshaking);
	return true;
}

bool UUdpRelayClientComponent::RejoinChannel(const FString& InRelayAddress, const FString& InChannelGuid, const FString& InSeatTokenBase64)
{
	if (!Client.valid())
	{
		LastError = TEXT("RejoinChannel: not joined (JoinChannel first: a rejoin keeps that client's socket)");
		return false;
	}
	const udp_relay::Result<udp_relay::Guid> ParsedGuid = udp_relay::Guid::parse(TCHAR_TO_UTF8(*InChannelGuid));
	if (!ParsedGuid)
	{
		LastError = UdpRelayNative::ToFString(ParsedGuid.status());
		return false;
	}
	const FString Address = InRelayAddress.IsEmpty() ? GetDefault<UUdpRelaySettings>()->DefaultRelayAddress : InRelayAddress;
	TArray<uint8> Token;
	FString DecodeError;
	if (!UUdpRelaySettings::DecodeBase64(InSeatTokenBase64, TEXT("the seat token"), Token, DecodeError))
	{
		LastError = DecodeError;
		return false;
	}
	const udp_relay::Status Rejoined = Client.rejoin(TCHAR_TO_UTF8(*Address), *ParsedGuid, UdpRelayNative::ToByteView(Token));
	FMemory::Memzero(Token.GetData(), Token.Num());
	if (!Rejoined)
	{
		// The client is as it was: still lost, timed out or in its channel.
		LastError = UdpRelayNative::ToFString(Rejoined);
		return false;
	}
	RelayAddress = InRelayAddress;
	SeatTokenBase64 = InSeatTokenBase64;
	ChannelGuid = *ParsedGuid;
	LastError.Reset();
	SetComponentTickEnabled(true);
	UE_LOG(LogUdpRelay, Log, TEXT("Rejoining: channel %s via %s from the same socket"), *InChannelGuid, *Address);
	SetState(EUdpRelayClientState::Handshaking);
	return true;
}

void UUdpRelayClientComponent::Leave()
{
	SetComponentTickEnabled(false);
	Client.close();
	ChannelGuid = udp_relay::Guid();
	SetState(EUdpRelayClientState::Idle);
}

bool UUdpRelayClientComponent::Send(const TArray<uint8>& Datagram)
{
	return SendBytes(Datagram.GetData(), Datagram.Num());
}

bool UUdpRelayClientComponent::SendBytes(const uint8* Data, int32 Size)
{
	if (Size < 0 || (Data == nullptr && Size > 0))
	{
		LastError = TEXT("SendBytes: no data");
		return false;
	}
	const udp_relay::Status Sent = Client.send(udp_relay::ByteView(Data, static_cast<size_t>(Size)));
	if (!Sent)
	{
		// Would-block (socket buffer full) is not a failure: the caller retries next tick.
		LastError = UdpRelayNative::ToFString(Sent);
		return false;
	}
	return true;
}

FString UUdpRelayClientComponent::GetChannelGuid() const
{
	return Client.valid() ? UdpRelayNative::ToFString(ChannelGuid) : FString();
}

TArray<FUdpRelayMeasurement> UUdpRelayClientComponent::MeasureRelays(const TArray<FString>& RelayAddresses, int32 Attempts, int32 TimeoutMs)
{
	TArray<FUdpRelayMeasurement> Measurements;
	if (!FUdpRelayModule::IsLibraryReady())
	{
		return Measurements;
	}
	std::vector<std::string> Texts;
	for (const FString& Address : RelayAddresses)
	{
		Texts.push_back(TCHAR_TO_UTF8(*Address));
	}
	const udp_relay::Result<std::vector<udp_relay::Measurement>> Measured = udp_relay::measureRelays(
		Texts, static_cast<uint32_t>(FMath::Max(Attempts, 0)), static_cast<uint32_t>(FMath::Max(TimeoutMs, 0)));
	if (!Measured)
	{
		UE_LOG(LogUdpRelay, Warning, TEXT("MeasureRelays: %s"), *UdpRelayNative::ToFString(Measured.status()));
		return Measurements;
	}
	for (size_t Index = 0; Index < Measured->size(); ++Index)
	{
		const udp_relay::Measurement& Raw = (*Measured)[Index];
		FUdpRelayMeasurement Measurement;
		Measurement.RelayAddress = RelayAddresses[static_cast<int32>(Index)];
		Measurement.bAnswered = Raw.answered();
		Measurement.bResolved = Raw.status() != RELAY_STATUS_INVALID_ADDRESS;
		Measurement.State = Raw.state() == udp_relay::ProbeState::Draining ? EUdpRelayProbeState::Draining
			: Raw.state() == udp_relay::ProbeState::Full                   ? EUdpRelayProbeState::Full
																			: EUdpRelayProbeState::Accepting;
		Measurement.RttMs = static_cast<float>(Raw.rttUs()) / 1000.0f;
		Measurement.ProbesSent = static_cast<int32>(Raw.probesSent());
		Measurement.Replies = static_cast<int32>(Raw.replies());
		Measurements.Add(Measurement);
	}
	return Measurements;
}

int32 UUdpRelayClientComponent::NearestRelay(const TArray<FUdpRelayMeasurement>& Measurements)
{
	int32 Best = -1;
	for (int32 Index = 0; Index < Measurements.Num(); ++Index)
	{
		const FUdpRelayMeasurement& Measurement = Measurements[Index];
		if (Measurement.bAnswered && Measurement.State == EUdpRelayProbeState::Accepting
			&& (Best < 0 || Measurement.RttMs < Measurements[Best].RttMs))
		{
			Best = Index;
		}
	}
	return Best;
}

FString UUdpRelayClientComponent::NewChannelGuid()
{
	if (!FUdpRelayModule::IsLibraryReady())
	{
		return FString();
	}
	const udp_relay::Result<udp_relay::Guid> Generated = udp_relay::Guid::generate();
	return Generated ? UdpRelayNative::ToFString(*Generated) : FString();
}

void UUdpRelayClientComponent::TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction)
{
	Super::TickComponent(DeltaTime, TickType, ThisTickFunction);
	if (!Client.valid())
	{
		return;
	}

	// Never waits (timeout 0): receives what arrived, sends due handshakes and keep-alives.
	const udp_relay::Result<uint32_t> Polled = Client.poll(0);
	if (!Polled)
	{
		Fail(UdpRelayNative::ToFString(Polled.status()), StateAfterFailure(Polled.status()));
		return;
	}
	if (Client.established())
	{
		SetState(EUdpRelayClientState::Established);
	}

	while (State == EUdpRelayClientState::Established && Client.valid())
	{
		const udp_relay::Result<size_t> Got =
			Client.recv(udp_relay::MutableByteView(ReceiveBuffer.GetData(), static_cast<size_t>(ReceiveBuffer.Num())));
		if (!Got)
		{
			if (!Got.status().wouldBlock())
			{
				// Lost with datagrams still queued: they were handed over first, then PEER_LOST.
				Fail(UdpRelayNative::ToFString(Got.status()), StateAfterFailure(Got.status()));
			}
			break;
		}
		Received.Reset();
		Received.Append(ReceiveBuffer.GetData(), static_cast<int32>(*Got));
		// A handler may call Leave() or JoinChannel(): the loop re-checks the client.
		OnDatagramReceived.Broadcast(Received);
	}
}

void UUdpRelayClientComponent::EndPlay(const EEndPlayReason::Type EndPlayReason)
{
	Leave();
	Super::EndPlay(EndPlayReason);
}

void UUdpRelayClientComponent::SetState(EUdpRelayClientState NewState)
{
	if (State == NewState)
	{
		return;
	}
	State = NewState;
	OnStateChanged.Broadcast(NewState);
}

void UUdpRelayClientComponent::Fail(const FString& Message, EUdpRelayClientState NewState)
{
	LastError = Message;
	UE_LOG(LogUdpRelay, Warning, TEXT("Relay client: %s"), *Message);
	SetComponentTickEnabled(false);
	// A channel that timed out or was lost keeps its socket for RejoinChannel; anything else closes it.
	if (NewState != EUdpRelayClientState::TimedOut && NewState != EUdpRelayClientState::Lost)
	{
		Client.close();
	}
	SetState(NewState);
}
