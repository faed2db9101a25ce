// Seat tokens: the matchmaker mints one per peer with the relay's secret; each peer passes
// its own to RelayClientOptions.Token, and a relay with RequireTokens admits only them.
using System;

namespace UdpRelay
{
    /// <summary>
    /// Mints seat tokens (matchmaker side, which holds the relay's secret) and writes token
    /// handshakes by hand. A token binds one peer to one seat (A or B) of one channel until
    /// its expiry; it is that peer's secret: send it only over the matchmaker's authenticated,
    /// encrypted connection. Game clients pass it to <see cref="RelayClientOptions.Token"/>
    /// and need no relay secret.
    /// </summary>
    public static class RelayToken
    {
        /// <summary>Size of a v1 token (RELAY_TOKEN_LEN).</summary>
        public const int Length = Native.TokenLength;

        /// <summary>Size of a v2 (relay-bound) token (RELAY_TOKEN_V2_LEN).</summary>
        public const int V2Length = Native.TokenV2Length;

        /// <summary>
        /// Mints the token of seat <paramref name="role"/> of channel <paramref name="guid"/>,
        /// valid while the relay's clock is before <paramref name="expiryUnixSeconds"/>
        /// (keep it short: the match length plus a margin). Throws RelayException
        /// (InvalidArgument) for an empty secret or a zero GUID.
        /// </summary>
        public static byte[] Mint(byte[] relaySecret, RelayGuid guid, RelayTokenRole role, ulong expiryUnixSeconds)
        {
            byte[] token = new byte[Length];
            Mint(relaySecret, guid, role, expiryUnixSeconds, token, 0, token.Length);
            return token;
        }

        /// <summary>Like <see cref="Mint(byte[], RelayGuid, RelayTokenRole, ulong)"/>, into
        /// <paramref name="buffer"/> at <paramref name="offset"/> (at least 60 bytes);
        /// returns 60.</summary>
        public static unsafe int Mint(byte[] relaySecret, RelayGuid guid, RelayTokenRole role, ulong expiryUnixSeconds,
            byte[] buffer, int offset, int count)
        {
            BufferRange.Check(buffer, offset, count, "buffer");
            RelayLibrary.EnsureLoaded();
            int n;
            fixed (byte* secret = relaySecret)
            fixed (byte* p = buffer)
            {
                n = Native.relay_token_mint(secret, Len(relaySecret), ref guid, role, expiryUnixSeconds,
                    p + offset, (UIntPtr)(uint)count);
            }
            if (n < 0) throw RelayException.FromLastError((RelayStatus)n);
            return n;
        }

        /// <summary>
        /// Mints a v2 token: seat <paramref name="role"/> of channel <paramref name="guid"/>,
        /// valid only on the relay whose RelayOptions.RelayId is <paramref name="relayId"/>
        /// (1 or more), while that relay holds <paramref name="relaySecret"/> as its key
        /// <paramref name="keyId"/> (current, or previous during a rotation), and while its
        /// clock is before <paramref name="expiryUnixSeconds"/>. 68 bytes. Throws
        /// RelayException (InvalidArgument) for an empty secret, a zero GUID or relay id 0.
        /// </summary>
        public static byte[] MintForRelay(byte[] relaySecret, uint keyId, uint relayId, RelayGuid guid,
            RelayTokenRole role, ulong expiryUnixSeconds)
        {
            byte[] token = new byte[V2Length];
            MintForRelay(relaySecret, keyId, relayId, guid, role, expiryUnixSeconds, token, 0, token.Length);
            return token;
        }

        /// <summary>Like <see cref="MintForRelay(byte[], uint, uint, RelayGuid, RelayTokenRole, ulong)"/>,
        /// into <paramref name="buffer"/> at <paramref name="offset"/> (at least 68 bytes);
        /// returns 68.</summary>
        public static unsafe int MintForRelay(byte[] relaySecret, uint keyId, uint relayId, RelayGuid guid,
            RelayTokenRole role, ulong expiryUnixSeconds, byte[] buffer, int offset, int count)
        {
            BufferRange.Check(buffer, offset, count, "buffer");
            RelayLibrary.EnsureLoaded();
            int n;
            fixed (byte* secret = relaySecret)
            fixed (byte* p = buffer)
            {
                n = Native.relay_token_mint_for_relay(secret, Len(relaySecret), keyId, relayId, ref guid, role,
                    expiryUnixSeconds, p + offset, (UIntPtr)(uint)count);
            }
            if (n < 0) throw RelayException.FromLastError((RelayStatus)n);
            return n;
        }

        /// <summary>
        /// Writes a handshake carrying <paramref name="token"/> with <paramref name="sequence"/>
        /// into <paramref name="buffer"/> at <paramref name="offset"/> (at least 76 bytes for a
        /// v1 token, 84 for v2) and returns that length. Only for engines that write handshakes themselves: RelayClient and
        /// RelayHandshake do this, with a fresh growing sequence every time, when
        /// <see cref="RelayClientOptions.Token"/> is set. The sequence must grow with every
        /// handshake sent with this token, for its whole life.
        /// </summary>
        public static unsafe int WriteHandshake(byte[] token, ulong sequence, byte[] buffer, int offset, int count)
        {
            if (token == null) throw new ArgumentNullException("token");
            BufferRange.Check(buffer, offset, count, "buffer");
            RelayLibrary.EnsureLoaded();
            int n;
            fixed (byte* t = token)
            fixed (byte* p = buffer)
            {
                n = Native.relay_handshake_write_with_token(t, Len(token), sequence, p + offset, (UIntPtr)(uint)count);
            }
            if (n < 0) throw RelayException.FromLastError((RelayStatus)n);
            return n;
        }

        private static UIntPtr Len(byte[] bytes)
        {
            return (UIntPtr)(uint)(bytes == null ? 0 : bytes.Length);
        }
    }
}
