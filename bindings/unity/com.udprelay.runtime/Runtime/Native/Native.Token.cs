// relay_token_*: mint seat tokens (matchmaker side) and write handshakes carrying one.
// RelayToken wraps them.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    public static partial class Native
    {
        /// <summary>RELAY_TOKEN_LEN (60) written, or a negative RelayStatus.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe int relay_token_mint(byte* secret, UIntPtr secretLen, ref RelayGuid guid,
            RelayTokenRole role, ulong expiryUnixSecs, byte* output, UIntPtr outputLen);

        /// <summary>RELAY_TOKEN_V2_LEN (68) written, or a negative RelayStatus. ABI 5.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe int relay_token_mint_for_relay(byte* secret, UIntPtr secretLen, uint keyId,
            uint relayId, ref RelayGuid guid, RelayTokenRole role, ulong expiryUnixSecs, byte* output,
            UIntPtr outputLen);

        /// <summary>RELAY_TOKEN_HANDSHAKE_LEN (76) or RELAY_TOKEN_V2_HANDSHAKE_LEN (84) written,
        /// or a negative RelayStatus.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe int relay_handshake_write_with_token(byte* token, UIntPtr tokenLen, ulong sequence,
            byte* output, UIntPtr outputLen);
    }
}
