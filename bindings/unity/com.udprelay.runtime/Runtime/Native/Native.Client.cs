// relay_client_*: join a channel with a UDP socket the library owns. Handles are raw IntPtr
// here; RelayClientSafeHandle owns them in the friendly API.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    public static partial class Native
    {
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_client_config_default(out RelayClientConfig config);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_client_connect(ref RelayClientConfig config, out IntPtr client);

        /// <summary>Queued game datagrams (&gt;= 0) or a negative RelayStatus.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int relay_client_poll(IntPtr client, uint timeoutMs);

        /// <summary>A RelayClientState (&gt;= 1) or a negative RelayStatus.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int relay_client_state(IntPtr client);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe RelayStatus relay_client_send(IntPtr client, byte* buf, UIntPtr len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe RelayStatus relay_client_recv(IntPtr client, byte* buf, UIntPtr cap, out UIntPtr length);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern ushort relay_client_local_port(IntPtr client);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_client_close(IntPtr client);

        /// <summary>relayAddress: NUL-terminated UTF-8; token: RELAY_TOKEN_LEN bytes or null with 0.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe RelayStatus relay_client_rejoin(IntPtr client, byte* relayAddress, ref RelayGuid guid, byte* token, UIntPtr tokenLen);
    }
}
