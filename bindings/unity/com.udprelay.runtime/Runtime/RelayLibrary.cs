// Loading the native library and checking it is the one these bindings were written for.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    /// <summary>The native udp_relay library: version and compatibility check.</summary>
    public static class RelayLibrary
    {
        private static volatile bool s_verified;

        /// <summary>The native library's version, e.g. "0.1.0".</summary>
        public static string Version
        {
            get
            {
                EnsureLoaded();
                return Utf8.FromNative(Native.relay_version());
            }
        }

        /// <summary>
        /// Loads the native library and checks its ABI version (and the RelayConfig / RelayClientConfig sizes) against
        /// these bindings. Called by every entry point of the friendly API; call it yourself at
        /// startup to fail early. Throws DllNotFoundException when the library is missing and
        /// RelayException(VersionMismatch) when it does not match.
        /// </summary>
        public static void EnsureLoaded()
        {
            if (s_verified) return;
            uint abi;
            try
            {
                abi = Native.relay_abi_version();
            }
            catch (DllNotFoundException e)
            {
                throw new DllNotFoundException(
                    "udp_relay native library not found. Unity: put udp_relay.dll / libudp_relay.so / " +
                    "libudp_relay.dylib in the package's Plugins/<platform>/ folder (see its README). " +
                    "Mono/.NET: put it next to the executable or on LD_LIBRARY_PATH / DYLD_LIBRARY_PATH / PATH. (" +
                    e.Message + ")", e);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new RelayException(RelayStatus.VersionMismatch,
                    "the loaded udp_relay library has no relay_abi_version: it is not udp-relay or is too old (" +
                    e.Message + ")");
            }
            if (abi != Native.AbiVersion)
            {
                throw new RelayException(RelayStatus.VersionMismatch,
                    "the native udp_relay library " + Utf8.FromNative(Native.relay_version()) + " has ABI version " +
                    abi + " but these C# bindings were written for ABI version " + Native.AbiVersion +
                    ": use the native library and the bindings of the same udp-relay release");
            }
            RelayConfig defaults;
            RelayException.Check(Native.relay_config_default(out defaults));
            CheckMirror(typeof(RelayConfig), defaults.StructSize);
            RelayClientConfig clientDefaults;
            RelayException.Check(Native.relay_client_config_default(out clientDefaults));
            CheckMirror(typeof(RelayClientConfig), clientDefaults.StructSize);
            s_verified = true;
        }

        /// <summary>Throws unless the C# mirror of a config struct has the native size.</summary>
        private static void CheckMirror(Type mirror, long nativeSize)
        {
            int managedSize = Marshal.SizeOf(mirror);
            if (nativeSize != managedSize)
            {
                throw new RelayException(RelayStatus.VersionMismatch,
                    "native " + mirror.Name + " is " + nativeSize + " bytes but the C# mirror is " +
                    managedSize + " bytes (wrong architecture or mismatched bindings)");
            }
        }
    }
}
