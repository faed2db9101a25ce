// Module of the UDP Relay plugin: loads the udp_relay native library, checks its ABI and
// routes its log to LogUdpRelay.

#pragma once

#include "CoreMinimal.h"
#include "Modules/ModuleInterface.h"

class UDPRELAY_API FUdpRelayModule : public IModuleInterface
{
public:
	virtual void StartupModule() override;
	virtual void ShutdownModule() override;

	/**
	 * True once the native library is loaded and speaks the ABI of the staged header. Every
	 * udp_relay call must wait for this: on Windows and macOS the library is delay-loaded, so
	 * a call without it would fail at the first use.
	 */
	static bool IsLibraryReady();

private:
	/** Handle from FPlatformProcess::GetDllHandle (Windows, macOS); null on Linux. */
	void* LibraryHandle = nullptr;
	bool bLibraryReady = false;
};
