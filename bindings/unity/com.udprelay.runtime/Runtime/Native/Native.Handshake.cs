// relay_guid_* and relay_handshake_*: GUIDs, v0.8 handshakes as pure functions, and the
// socket-less handshake state machine for engines that own their UDP socket. Handles are raw
// IntPtr here; RelayHandshakeSafeHandle owns them in the friendly API.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    public static partial class Native
    {
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_guid_new(out RelayGuid guid);

        /// <summary><paramref name="text"/>: NUL-terminated UTF-8.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe RelayStatus relay_guid_parse(byte* text, out RelayGuid guid);

        /// <summary>The text length (36) or a negative RelayStatus.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe int relay_guid_format(ref RelayGuid guid, byte* buf, UIntPtr bufLen);

        /// <summary>The handshake length (56) or a negative RelayStatus.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe int relay_handshake_write(byte* buf, UIntPtr bufLen, ref RelayGuid guid, byte* secretKey, UIntPtr secretKeyLen);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe RelayStatus relay_handshake_parse(byte* datagram, UIntPtr len, ref RelayGuid guid, byte* secretKey, UIntPtr secretKeyLen);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_handshake_new(ref RelayClientConfig config, out IntPtr handshake);

        /// <summary>Bytes written to send (56), 0 when nothing is due, or a negative RelayStatus.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe int relay_handshake_poll(IntPtr handshake, byte* buf, UIntPtr bufLen);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_handshake_next_timeout(IntPtr handshake, out uint ms);

        /// <summary>A RelayDatagramKind (&gt;= 0) or a negative RelayStatus.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe int relay_handshake_receive(IntPtr handshake, byte* datagram, UIntPtr len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_handshake_on_data_sent(IntPtr handshake);

        /// <summary>A RelayClientState (&gt;= 1) or a negative RelayStatus.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int relay_handshake_state(IntPtr handshake);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_handshake_free(IntPtr handshake);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe RelayStatus relay_handshake_rejoin(IntPtr handshake, ref RelayGuid guid, byte* token, UIntPtr tokenLen);
    }
}
