// The engine-independent C API and C++ wrapper, staged into the UdpRelayLibrary module by
// bindings/unreal/stage_library.sh, plus conversions between their types and Unreal's.

#pragma once

#include "CoreMinimal.h"

THIRD_PARTY_INCLUDES_START
#include "udp_relay.hpp"
THIRD_PARTY_INCLUDES_END

namespace UdpRelayNative
{
	/** "name: message" of a failed call, for logs and Blueprint. */
	inline FString ToFString(const udp_relay::Status& Status)
	{
		return FString(UTF8_TO_TCHAR(Status.toString().c_str()));
	}

	/** The GUID's lowercase 8-4-4-4-12 text. */
	inline FString ToFString(const udp_relay::Guid& Guid)
	{
		char Text[RELAY_GUID_STRING_SIZE];
		Guid.format(Text);
		return FString(UTF8_TO_TCHAR(Text));
	}

	/** "1.2.3.4:5678" or "[::1]:5678". */
	inline FString ToFString(const udp_relay::Address& Address)
	{
		char Text[udp_relay::Address::kTextSize];
		Address.format(Text);
		return FString(UTF8_TO_TCHAR(Text));
	}

	/** A view of a TArray's bytes, borrowed for the call it is passed to. */
	inline udp_relay::ByteView ToByteView(const TArray<uint8>& Bytes)
	{
		return udp_relay::ByteView(Bytes.GetData(), static_cast<size_t>(Bytes.Num()));
	}
}
