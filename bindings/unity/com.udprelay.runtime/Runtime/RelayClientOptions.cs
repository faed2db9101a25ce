// How to join a channel: a managed view of RelayClientConfig with the library's defaults,
// shared by RelayClient (library-owned socket) and RelayHandshake (engine-owned socket).
using System;

namespace UdpRelay
{
    /// <summary>Settings for <see cref="RelayClient.Connect"/> and
    /// <see cref="RelayHandshake.Create"/>, pre-filled with the library's defaults (retry every
    /// 250 ms backing off to 2 s, 10 s handshake timeout, keep-alive after 5 s of silence,
    /// no peer timeout, 1024 queued datagrams, no key, no token). Set at least <see cref="Guid"/> (or
    /// <see cref="Token"/>) and, for RelayClient, <see cref="RelayAddress"/>.</summary>
    public sealed class RelayClientOptions
    {
        /// <summary>The relay as "host:port", "1.2.3.4:port" or "[v6]:port". A host name is
        /// resolved by the system resolver inside <see cref="RelayClient.Connect"/>, blocking
        /// the calling thread (see there). Required by RelayClient; ignored by
        /// RelayHandshake.</summary>
        public string RelayAddress;
        /// <summary>The channel GUID both peers agreed on; must not be zero.</summary>
        public RelayGuid Guid;
        /// <summary>The relay's raw HMAC key bytes; null or empty for an unkeyed relay (and for
        /// a token holder, which never needs the relay's secret). <see cref="RelayKeys.V08Default"/>
        /// for a v0.8.2 relay run with its defaults.</summary>
        public byte[] SecretKey;
        /// <summary>The seat token the matchmaker minted for this peer
        /// (<see cref="RelayToken.Mint(byte[], RelayGuid, RelayTokenRole, ulong)"/>, 60 bytes, or
        /// <see cref="RelayToken.MintForRelay(byte[], uint, uint, RelayGuid, RelayTokenRole, ulong)"/>,
        /// 68 bytes, valid on one relay of a fleet), for a relay that requires tokens; null for
        /// none. Every handshake and keep-alive then carries
        /// it. <see cref="Guid"/> may stay zero (the token's GUID is used). The library copies
        /// it; RelayHandshake.Poll then needs <see cref="Native.MaxHandshakeLength"/> bytes.</summary>
        public byte[] Token;
        /// <summary>First gap between handshakes (and shortest gap between answers); &gt; 0.</summary>
        public uint RetryIntervalMs;
        /// <summary>The gap between handshakes doubles up to this; &gt;= RetryIntervalMs.</summary>
        public uint RetryBackoffMaxMs;
        /// <summary>Give up (state TimedOut) when not established this long after the start; &gt; 0.</summary>
        public uint HandshakeTimeoutMs;
        /// <summary>Once established, send a keep-alive after this long without sending
        /// anything (keep it well inside the relay's inactivity timeout); 0 disables.</summary>
        public uint KeepaliveIntervalMs;
        /// <summary>Once established, give up (state Lost, RelayException with
        /// <see cref="RelayStatus.PeerLost"/>) after this many milliseconds without receiving
        /// anything from the relay: it restarted, or the peer is gone. A quiet peer is heard
        /// only through its keep-alives, so both peers keep them on and this must be longer
        /// than <see cref="KeepaliveIntervalMs"/> (two to three intervals). 0 (the default)
        /// never gives up.</summary>
        public uint PeerTimeoutMs;
        /// <summary>Game datagrams RelayClient queues for TryReceive; when full it stops reading
        /// its socket. &gt; 0. Ignored by RelayHandshake.</summary>
        public uint MaxQueuedDatagrams;
        /// <summary>SO_RCVBUF / SO_SNDBUF to request; 0 keeps the system default. Ignored by
        /// RelayHandshake.</summary>
        public uint RecvBufferBytes;
        public uint SendBufferBytes;

        public RelayClientOptions()
        {
            RelayClientConfig c = Defaults();
            RetryIntervalMs = c.RetryIntervalMs;
            RetryBackoffMaxMs = c.RetryBackoffMaxMs;
            HandshakeTimeoutMs = c.HandshakeTimeoutMs;
            KeepaliveIntervalMs = c.KeepaliveIntervalMs;
            PeerTimeoutMs = c.PeerTimeoutMs;
            MaxQueuedDatagrams = c.MaxQueuedDatagrams;
            RecvBufferBytes = c.RecvBufferBytes;
            SendBufferBytes = c.SendBufferBytes;
        }

        internal static RelayClientConfig Defaults()
        {
            RelayLibrary.EnsureLoaded();
            RelayClientConfig c;
            RelayException.Check(Native.relay_client_config_default(out c));
            return c;
        }

        /// <summary>The RelayClientConfig for these options, pointers left for the caller to pin.</summary>
        internal RelayClientConfig ToConfig()
        {
            RelayClientConfig c = Defaults();
            c.Guid = Guid;
            c.RetryIntervalMs = RetryIntervalMs;
            c.RetryBackoffMaxMs = RetryBackoffMaxMs;
            c.HandshakeTimeoutMs = HandshakeTimeoutMs;
            c.KeepaliveIntervalMs = KeepaliveIntervalMs;
            c.PeerTimeoutMs = PeerTimeoutMs;
            c.MaxQueuedDatagrams = MaxQueuedDatagrams;
            c.RecvBufferBytes = RecvBufferBytes;
            c.SendBufferBytes = SendBufferBytes;
            return c;
        }
    }
}
