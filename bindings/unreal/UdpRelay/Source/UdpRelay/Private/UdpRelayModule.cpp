#include "UdpRelayModule.h"

#include "HAL/PlatformProcess.h"
#include "Interfaces/IPluginManager.h"
#include "Misc/Paths.h"
#include "Modules/ModuleManager.h"
#include "UdpRelayLog.h"
#include "UdpRelayNative.h"

DEFINE_LOG_CATEGORY(LogUdpRelay);

namespace
{
	/**
	 * Receives the library's log records. The library calls it on the thread that made the
	 * logging relay_* call: the game thread for the client component and the subsystem, the
	 * relay thread for a relay polled there (UE_LOG may be used from any thread). It must not
	 * call back into relay_* functions, and it does not.
	 */
	void ForwardLibraryLog(void* /*UserData*/, uint32_t Level, const char* Message)
	{
		const FString Text(UTF8_TO_TCHAR(Message));
		switch (Level)
		{
		case RELAY_LOG_LEVEL_ERROR:
			UE_LOG(LogUdpRelay, Error, TEXT("%s"), *Text);
			break;
		case RELAY_LOG_LEVEL_WARN:
			UE_LOG(LogUdpRelay, Warning, TEXT("%s"), *Text);
			break;
		case RELAY_LOG_LEVEL_INFO:
			UE_LOG(LogUdpRelay, Log, TEXT("%s"), *Text);
			break;
		case RELAY_LOG_LEVEL_DEBUG:
			UE_LOG(LogUdpRelay, Verbose, TEXT("%s"), *Text);
			break;
		default:
			UE_LOG(LogUdpRelay, VeryVerbose, TEXT("%s"), *Text);
			break;
		}
	}
}

void FUdpRelayModule::StartupModule()
{
#if PLATFORM_WINDOWS || PLATFORM_MAC
	// Delay-loaded: load it from the plugin's folder before the first relay_* call.
	const TSharedPtr<IPlugin> Plugin = IPluginManager::Get().FindPlugin(TEXT("UdpRelay"));
	const FString LibraryDir = FPaths::Combine(
		Plugin.IsValid() ? Plugin->GetBaseDir() : FString(), TEXT("Source/ThirdParty/UdpRelayLibrary/lib"));
#if PLATFORM_WINDOWS
	const FString LibraryPath = FPaths::Combine(LibraryDir, TEXT("Win64/udp_relay.dll"));
#else
	const FString LibraryPath = FPaths::Combine(LibraryDir, TEXT("Mac/libudp_relay.dylib"));
#endif
	LibraryHandle = FPlatformProcess::GetDllHandle(*LibraryPath);
	if (LibraryHandle == nullptr)
	{
		UE_LOG(LogUdpRelay, Error,
			TEXT("Cannot load %s: build the library and run bindings/unreal/stage_library.sh (see the plugin README)."),
			*LibraryPath);
		return;
	}
#endif
	// Linux links libudp_relay.so directly: the loader has already loaded it.

	if (relay_abi_version() != RELAY_ABI_VERSION)
	{
		UE_LOG(LogUdpRelay, Error,
			TEXT("udp_relay library %s has ABI %u but the plugin was built against ABI %u: stage the header and library of one build."),
			UTF8_TO_TCHAR(udp_relay::libraryVersion()), relay_abi_version(), static_cast<uint32>(RELAY_ABI_VERSION));
		return;
	}
	bLibraryReady = true;

	// Debug records only when LogUdpRelay shows Verbose, so they are not formatted for nothing.
	const udp_relay::LogLevel MaxLevel =
		UE_LOG_ACTIVE(LogUdpRelay, Verbose) ? udp_relay::LogLevel::Debug : udp_relay::LogLevel::Info;
	const udp_relay::Status Logging = udp_relay::setLogCallback(&ForwardLibraryLog, nullptr, MaxLevel);
	if (!Logging)
	{
		UE_LOG(LogUdpRelay, Warning, TEXT("Library log not routed: %s"), *UdpRelayNative::ToFString(Logging));
	}
	UE_LOG(LogUdpRelay, Log, TEXT("udp_relay %s loaded"), UTF8_TO_TCHAR(udp_relay::libraryVersion()));
}

void FUdpRelayModule::ShutdownModule()
{
	if (bLibraryReady)
	{
		udp_relay::setLogCallback(nullptr);
		bLibraryReady = false;
	}
	if (LibraryHandle != nullptr)
	{
		FPlatformProcess::FreeDllHandle(LibraryHandle);
		LibraryHandle = nullptr;
	}
}

bool FUdpRelayModule::IsLibraryReady()
{
	const FUdpRelayModule* Module = FModuleManager::GetModulePtr<FUdpRelayModule>(TEXT("UdpRelay"));
	return Module != nullptr && Module->bLibraryReady;
}

IMPLEMENT_MODULE(FUdpRelayModule, UdpRelay)
