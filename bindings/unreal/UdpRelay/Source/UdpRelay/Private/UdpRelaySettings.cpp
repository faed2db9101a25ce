#include "UdpRelaySettings.h"

#include "Misc/Base64.h"
#include "Misc/CommandLine.h"
#include "Misc/Parse.h"

FString UUdpRelaySettings::GetSecretKeyBase64() const
{
	FString FromCommandLine;
	if (FParse::Value(FCommandLine::Get(), TEXT("UdpRelaySecretKey="), FromCommandLine))
	{
		return FromCommandLine;
	}
	return SecretKeyBase64;
}

bool UUdpRelaySettings::DecodeKey(const FString& Base64, TArray<uint8>& OutKey, FString& OutError)
{
	OutKey.Reset();
	const FString Trimmed = Base64.TrimStartAndEnd();
	if (Trimmed.IsEmpty())
	{
		return true;
	}
	if (!FBase64::Decode(Trimmed, OutKey) || OutKey.Num() == 0)
	{
		OutKey.Reset();
		OutError = TEXT("the secret key is not valid base64");
		return false;
	}
	return true;
}
