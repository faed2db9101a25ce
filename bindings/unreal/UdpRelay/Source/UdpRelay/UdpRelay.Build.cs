// Runtime module of the UDP Relay plugin: the embedded-relay subsystem, the client component,
// the settings and the log bridge, over the C++ wrapper udp_relay.hpp.

using UnrealBuildTool;

public class UdpRelay : ModuleRules
{
	public UdpRelay(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;

		PublicDependencyModuleNames.AddRange(new string[]
		{
			"Core",
			"CoreUObject",
			"Engine",
			"DeveloperSettings",
			"UdpRelayLibrary",
		});

		PrivateDependencyModuleNames.AddRange(new string[]
		{
			// IPluginManager: where the plugin (and its staged library) lives.
			"Projects",
		});
	}
}
