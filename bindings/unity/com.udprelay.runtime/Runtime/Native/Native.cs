// Raw P/Invoke declarations of include/udp_relay.h: one extern per C function, same names,
// same types. The friendly API (Relay, RelayLog, RelayGuid) is built on top of these.
// Strings returned by the library are `IntPtr` on purpose: the marshaller would otherwise
// try to free memory the library owns.
//
// The class is split per concern like src/ffi/: Native.cs (library-wide functions),
// Native.Relay.cs (relay_*), Native.Client.cs (relay_client_*), Native.Handshake.cs
// (relay_guid_*, relay_handshake_*), Native.Token.cs (relay_token_*).
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    public static partial class Native
    {
#if (UNITY_IOS || UNITY_WEBGL) && !UNITY_EDITOR || UDP_RELAY_STATIC
        /// <summary>Statically linked into the player (iOS, WebGL, or UDP_RELAY_STATIC).</summary>
        public const string Library = "__Internal";
#else
        /// <summary>udp_relay.dll / libudp_relay.so / libudp_relay.dylib.</summary>
        public const string Library = "udp_relay";
#endif

        /// <summary>RELAY_ABI_VERSION of the header these declarations follow.</summary>
        public const uint AbiVersion = 5;

        /// <summary>RELAY_HANDSHAKE_LEN: size of a v0.8 handshake without extensions.</summary>
        public const int HandshakeLength = 56;

        /// <summary>RELAY_MAX_HANDSHAKE_LEN: the largest handshake a client sends (with a seat
        /// token, echoing the relay's return-path cookie); a buffer this size always fits what
        /// relay_handshake_poll writes.</summary>
        public const int MaxHandshakeLength = 92;

        /// <summary>RELAY_TOKEN_LEN: size of a seat token.</summary>
        public const int TokenLength = 60;

        /// <summary>RELAY_TOKEN_HANDSHAKE_LEN: size of a handshake carrying a seat token.</summary>
        public const int TokenHandshakeLength = 76;

        /// <summary>RELAY_MAX_DATAGRAM: largest UDP payload relayed intact.</summary>
        public const int MaxDatagram = 65507;

        /// <summary>RELAY_GUID_STRING_SIZE: bytes relay_guid_format needs (36 characters + NUL).</summary>
        public const int GuidStringSize = 37;

        /// <summary>RELAY_STATS_MIN_SIZE: the smallest size relay_get_stats accepts.</summary>
        public const int StatsMinSize = 192;

        /// <summary>RELAY_EVENT_MIN_SIZE: the smallest size relay_next_event accepts.</summary>
        public const int EventMinSize = 120;

        /// <summary>relay_handshake_next_timeout's "never" (UINT32_MAX).</summary>
        public const uint NoTimeout = uint.MaxValue;

        /// <summary>RelayLogCallback. Called on the thread that made the logging call.</summary>
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate void LogCallback(IntPtr userData, uint level, IntPtr message);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr relay_last_error();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr relay_status_str(int status);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_set_log_callback(LogCallback callback, IntPtr userData, uint maxLevel);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe int relay_address_format(ref RelayAddress addr, byte* buf, UIntPtr bufLen);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr relay_version();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern uint relay_abi_version();
    }
}
