// The udp-relay C library (built by cargo, staged by bindings/unreal/stage_library.sh) as an
// external module: the headers in include/ and one library per platform in lib/<Platform>/.
// Nothing here is compiled by UnrealBuildTool; see the plugin README for how each file is made.

using System.IO;
using UnrealBuildTool;

public class UdpRelayLibrary : ModuleRules
{
	public UdpRelayLibrary(ReadOnlyTargetRules Target) : base(Target)
	{
		Type = ModuleType.External;

		// udp_relay.h (C API) and udp_relay.hpp (C++ wrapper), staged from the repository.
		PublicSystemIncludePaths.Add(Path.Combine(ModuleDirectory, "include"));

		string LibDir = Path.Combine(ModuleDirectory, "lib");

		if (Target.Platform == UnrealTargetPlatform.Win64)
		{
			string PlatformDir = Path.Combine(LibDir, "Win64");
			// Import library of the DLL (cargo names it udp_relay.dll.lib).
			PublicAdditionalLibraries.Add(Path.Combine(PlatformDir, "udp_relay.dll.lib"));
			// Loaded from the plugin folder by FUdpRelayModule::StartupModule before any call.
			PublicDelayLoadDLLs.Add("udp_relay.dll");
			// Staged into packaged builds at the same plugin-relative path.
			RuntimeDependencies.Add(Path.Combine(PlatformDir, "udp_relay.dll"));
		}
		else if (Target.Platform == UnrealTargetPlatform.Linux)
		{
			string PlatformDir = Path.Combine(LibDir, "Linux");
			// Linked by this name. The library's soname is libudp_relay.so.<ABI version>
			// (set by build.rs): the name the game records and looks up at run time, through
			// the rpath UnrealBuildTool adds for this directory.
			PublicAdditionalLibraries.Add(Path.Combine(PlatformDir, "libudp_relay.so"));
			// stage_library.sh copies the library under its soname too: that file is the one
			// packaged builds need.
			if (Directory.Exists(PlatformDir))
			{
				foreach (string Versioned in Directory.GetFiles(PlatformDir, "libudp_relay.so.*"))
				{
					RuntimeDependencies.Add(Versioned);
				}
			}
		}
		else if (Target.Platform == UnrealTargetPlatform.Mac)
		{
			string PlatformDir = Path.Combine(LibDir, "Mac");
			string SharedLibrary = Path.Combine(PlatformDir, "libudp_relay.dylib");
			PublicDelayLoadDLLs.Add(SharedLibrary);
			RuntimeDependencies.Add(SharedLibrary);
		}
	}
}
