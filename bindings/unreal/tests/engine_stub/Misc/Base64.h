// Stand-in for Unreal Engine's Misc/Base64.h (see CoreMinimal.h): standard alphabet, padded.

#pragma once

#include "CoreMinimal.h"

struct FBase64
{
	static FString Encode(const uint8* Source, uint32 Length);
	static FString Encode(const TArray<uint8>& Source)
	{
		return Encode(Source.GetData(), static_cast<uint32>(Source.Num()));
	}
	/** False, leaving Dest unspecified, when Source is not base64. */
	static bool Decode(const FString& Source, TArray<uint8>& Dest);
};
