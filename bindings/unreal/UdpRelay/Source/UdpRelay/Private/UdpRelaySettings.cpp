#include "UdpRelaySettings.h"

#include "Misc/Base64.h"
#include "Misc/CommandLine.h"
#include "Misc/Parse.h"

namespace
{
	/**
	 * Value as the unsigned field it configures. Negative values have no unsigned meaning (a
	 * cast would make -1 "4294967295"), so they fail here; the range of the rest is the
	 * library's to judge.
	 */
	bool ToUnsigned(int32 Value, const TCHAR* Name, uint32_t& OutValue, FString& OutError)
	{
		if (Value < 0)
		{
			OutError = FString::Printf(TEXT("%s must not be negative (it is %d)"), Name, Value);
			return false;
		}
		OutValue = static_cast<uint32_t>(Value);
		return true;
	}
}

FString UUdpRelaySettings::GetSecretKeyBase64() const
{
	FString FromCommandLine;
	if (FParse::Value(FCommandLine::Get(), TEXT("UdpRelaySecretKey="), FromCommandLine))
	{
		return FromCommandLine;
	}
	return SecretKeyBase64;
}

bool UUdpRelaySettings::ToRelayConfig(udp_relay::RelayConfigBuilder& OutConfig, FString& OutError) const
{
	if (Port < 0 || Port > 65535)
	{
		OutError = FString::Printf(TEXT("Port must be 0 to 65535 (it is %d)"), Port);
		return false;
	}
	uint32_t InactivityTimeout = 0;
	uint32_t Channels = 0;
	uint32_t HandshakeRate = 0;
	uint32_t HandshakeBurst = 0;
	uint32_t PendingPerSource = 0;
	uint32_t TrackedSources = 0;
	uint32_t ChannelBandwidth = 0;
	uint32_t CoalesceWindow = 0;
	if (!ToUnsigned(InactivityTimeoutMs, TEXT("InactivityTimeoutMs"), InactivityTimeout, OutError)
		|| !ToUnsigned(MaxChannels, TEXT("MaxChannels"), Channels, OutError)
		|| !ToUnsigned(HandshakeRatePerSource, TEXT("HandshakeRatePerSource"), HandshakeRate, OutError)
		|| !ToUnsigned(HandshakeBurstPerSource, TEXT("HandshakeBurstPerSource"), HandshakeBurst, OutError)
		|| !ToUnsigned(MaxPendingPerSource, TEXT("MaxPendingPerSource"), PendingPerSource, OutError)
		|| !ToUnsigned(MaxTrackedSources, TEXT("MaxTrackedSources"), TrackedSources, OutError)
		|| !ToUnsigned(ChannelBandwidthBytesPerSec, TEXT("ChannelBandwidthBytesPerSec"), ChannelBandwidth, OutError)
		|| !ToUnsigned(CoalesceWindowUs, TEXT("CoalesceWindowUs"), CoalesceWindow, OutError))
	{
		return false;
	}
	TArray<uint8> Key;
	if (!DecodeKey(GetSecretKeyBase64(), Key, OutError))
	{
		return false;
	}

	OutConfig.port(static_cast<uint16_t>(Port))
		.inactivityTimeoutMs(InactivityTimeout)
		.maxChannels(Channels)
		.handshakeRatePerSource(HandshakeRate, HandshakeBurst)
		.maxPendingPerSource(PendingPerSource)
		.maxTrackedSources(TrackedSources)
		.channelBandwidthBytesPerSec(ChannelBandwidth)
		.coalesceWindowUs(CoalesceWindow)
		.requireTokens(bRequireTokens)
		.requireReturnPath(bRequireReturnPath)
		.secretKey(UdpRelayNative::ToByteView(Key));
	if (!BindAddress.IsEmpty())
	{
		OutConfig.bindAddress(TCHAR_TO_UTF8(*BindAddress));
	}
	// The builder copied the key: do not keep it around longer than needed.
	FMemory::Memzero(Key.GetData(), Key.Num());
	return true;
}

bool UUdpRelaySettings::DecodeKey(const FString& Base64, TArray<uint8>& OutKey, FString& OutError)
{
	return DecodeBase64(Base64, TEXT("the secret key"), OutKey, OutError);
}

bool UUdpRelaySettings::DecodeBase64(const FString& Base64, const TCHAR* What, TArray<uint8>& OutBytes, FString& OutError)
{
	OutBytes.Reset();
	const FString Trimmed = Base64.TrimStartAndEnd();
	if (Trimmed.IsEmpty())
	{
		return true;
	}
	if (!FBase64::Decode(Trimmed, OutBytes) || OutBytes.Num() == 0)
	{
		OutBytes.Reset();
		OutError = FString::Printf(TEXT("%s is not valid base64"), What);
		return false;
	}
	return true;
}
