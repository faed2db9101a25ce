// Blittable mirrors of the enums and structs of include/udp_relay.h, field for field in
// declaration order (LayoutKind.Sequential), so they cross P/Invoke without copying and
// without allocation. RelayGuid and RelayAddress live in their own files with their helpers.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    /// <summary>RelayStatus: 0 is success, every error is negative.</summary>
    public enum RelayStatus : int
    {
        Ok = 0,
        NullArgument = -1,
        InvalidArgument = -2,
        InvalidHandle = -3,
        AddressInUse = -4,
        InvalidAddress = -5,
        Io = -6,
        BufferTooSmall = -7,
        NotEstablished = -8,
        TimedOut = -9,
        WouldBlock = -10,
        InvalidHandshake = -11,
        VersionMismatch = -12,
        Panic = -13,
        /// <summary>The established channel went silent for PeerTimeoutMs (relay restarted,
        /// peer gone). Final for that client. ABI 3.</summary>
        PeerLost = -14,
    }

    /// <summary>RelayEventKind: what a RelayEvent reports.</summary>
    public enum RelayEventKind : uint
    {
        None = 0,
        /// <summary>A first handshake allocated a channel: Guid, PeerA.</summary>
        ChannelAllocated = 1,
        /// <summary>A second peer joined: Guid, PeerA, PeerB.</summary>
        ChannelEstablished = 2,
        /// <summary>The channel closed: everything, with CloseReason, Counters, LifetimeMs.</summary>
        ChannelClosed = 3,
        /// <summary>Drain() was called and the last channel has closed.</summary>
        Drained = 4,
    }

    /// <summary>RelayCloseReason: why a channel closed.</summary>
    public enum RelayCloseReason : uint
    {
        None = 0,
        Expired = 1,
        PeerMoved = 2,
    }

    /// <summary>RelayLogLevel, most severe first; Off disables logging.</summary>
    public enum RelayLogLevel : uint
    {
        Off = 0,
        Error = 1,
        Warn = 2,
        Info = 3,
        Debug = 4,
        Trace = 5,
    }

    /// <summary>
    /// RelayConfig as the C API takes it. Pointer fields are borrowed for the relay_start call
    /// only; RelayOptions fills and pins them for you.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RelayConfig
    {
        public uint StructSize;
        public uint InactivityTimeoutMs;
        public IntPtr BindAddress;
        public IntPtr SecretKey;
        public UIntPtr SecretKeyLength;
        public ushort Port;
        /// <summary>0 or 1: plain handshakes too must echo the relay's return-path cookie.</summary>
        public ushort RequireReturnPath;
        public uint MaxChannels;
        public uint RecvBufferBytes;
        public uint SendBufferBytes;
        public uint MaxDatagramsPerPoll;
        public uint MaxPendingEvents;
        public uint HandshakeRatePerSource;
        public uint HandshakeBurstPerSource;
        public uint MaxPendingPerSource;
        public uint MaxTrackedSources;
        public uint ChannelBandwidthBytesPerSec;
        /// <summary>0 or 1 (no bool in ABI structs).</summary>
        public uint RequireTokens;
        /// <summary>Microseconds Poll with a timeout lets datagrams gather after a light read;
        /// 0 to 5000. ABI 5.</summary>
        public uint CoalesceWindowUs;
        /// <summary>This relay's id in a fleet (v2 tokens name it); 0 = none. ABI 5, like the
        /// fields below.</summary>
        public uint RelayId;
        /// <summary>The id of SecretKey, which v2 tokens name.</summary>
        public uint KeyId;
        /// <summary>The id of PreviousSecretKey; must differ from KeyId while it is set.</summary>
        public uint PreviousKeyId;
        /// <summary>0 or 1: refuse v1 seat tokens, admit only relay-bound (v2) ones.</summary>
        public uint RequireTokenV2;
        /// <summary>During a key rotation, the key SecretKey replaces; borrowed for the call.</summary>
        public IntPtr PreviousSecretKey;
        public UIntPtr PreviousSecretKeyLength;
    }

    /// <summary>Relay-wide counters since start (RelayStats).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RelayStats
    {
        public ulong DatagramsIn;
        public ulong BytesIn;
        public ulong DatagramsOut;
        public ulong BytesOut;
        /// <summary>Received and not forwarded (malformed, refused, no peer yet, send failed).</summary>
        public ulong DatagramsDropped;
        /// <summary>Datagrams from unpaired addresses that are not valid handshakes.</summary>
        public ulong HandshakesRejected;
        /// <summary>Valid handshakes that allocated, refreshed or established a channel.</summary>
        public ulong HandshakesAccepted;
        /// <summary>Valid handshakes refused: third address, max channels, or draining.</summary>
        public ulong HandshakesRefused;
        public ulong ChannelsOpen;
        public ulong ChannelsEstablished;
        public ulong ChannelsAllocatedTotal;
        public ulong ChannelsExpiredTotal;
        public ulong RecvErrors;
        public ulong SendErrors;
        public ulong EventsDropped;
        /// <summary>Handshakes over their source's rate, dropped before verification.</summary>
        public ulong HandshakesRateLimited;
        /// <summary>New GUIDs refused because MaxChannels channels were open.</summary>
        public ulong HandshakesRefusedFull;
        /// <summary>New GUIDs refused because their source held MaxPendingPerSource half-open channels.</summary>
        public ulong HandshakesRefusedPending;
        /// <summary>Handshakes let through untracked because the rate-limit table was full.</summary>
        public ulong RateLimitUntracked;
        /// <summary>Datagrams over their channel's bandwidth cap.</summary>
        public ulong DatagramsOverBandwidth;
        /// <summary>Seat tokens malformed, not verifying, or missing where required.</summary>
        public ulong TokensInvalid;
        /// <summary>Seat tokens past their expiry.</summary>
        public ulong TokensExpired;
        /// <summary>Valid tokens for a seat held elsewhere without a fresh sequence.</summary>
        public ulong TokensReplayed;
        /// <summary>Seats moved to a new address by a fresh token handshake (NAT rebinding).</summary>
        public ulong PeersRebound;
        /// <summary>Admissible handshakes answered with a return-path challenge instead.</summary>
        public ulong HandshakesChallenged;
        /// <summary>Handshakes the relay took itself (allocated, refreshed, re-seated, challenged):
        /// DatagramsIn = DatagramsOut + DatagramsDropped + DatagramsConsumed.</summary>
        public ulong DatagramsConsumed;
        /// <summary>Relay probes answered (in DatagramsConsumed).</summary>
        public ulong ProbesAnswered;
        /// <summary>Authentic v2 seat tokens for another relay id (in HandshakesRejected): a
        /// client sent to the wrong relay of a fleet. ABI 5.</summary>
        public ulong HandshakesWrongRelay;
    }

    /// <summary>One relay for RelayRank / relay_rank: its id (1 or more, unique in the call)
    /// and its weight (its capacity, say; 0 ranks it last).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RelayRankEntry
    {
        public uint RelayId;
        public uint Weight;

        public RelayRankEntry(uint relayId, uint weight)
        {
            RelayId = relayId;
            Weight = weight;
        }
    }

    /// <summary>Traffic of one channel. "A" allocated it, "B" joined it.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RelayChannelCounters
    {
        public ulong DatagramsAToB;
        public ulong BytesAToB;
        public ulong DatagramsBToA;
        public ulong BytesBToA;
        public ulong Dropped;
    }

    /// <summary>One event from Relay.TryGetNextEvent. Fields a kind does not use are zero.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RelayEvent
    {
        public RelayEventKind Kind;
        public RelayCloseReason CloseReason;
        public RelayGuid Guid;
        public RelayAddress PeerA;
        public RelayAddress PeerB;
        public RelayChannelCounters Counters;
        public ulong LifetimeMs;
    }

    /// <summary>RelayClientState: where a RelayClient or a RelayHandshake stands.</summary>
    public enum RelayClientState : uint
    {
        /// <summary>Sending handshakes; the peer has not shown up yet.</summary>
        Handshaking = 1,
        /// <summary>The relay paired us with the peer: datagrams flow.</summary>
        Established = 2,
        /// <summary>No sign of the peer within the handshake timeout. Final until a Rejoin (or
        /// dispose and start again).</summary>
        TimedOut = 3,
        /// <summary>Closed. Final.</summary>
        Closed = 4,
        /// <summary>Was established, then nothing arrived from the relay for the peer timeout
        /// (relay killed or restarted, peer gone). Final until a Rejoin with a new ticket from
        /// your matchmaker (or dispose and connect again).</summary>
        Lost = 5,
    }

    /// <summary>RelayDatagramKind: what a datagram from the relay is (RelayHandshake.Receive).</summary>
    public enum RelayDatagramKind : uint
    {
        /// <summary>Game data from the peer: hand it to the game.</summary>
        Data = 0,
        /// <summary>The peer's handshake or keep-alive: consumed, not for the game. Poll next:
        /// an answer may be due.</summary>
        Handshake = 1,
        /// <summary>Not for the game either: a handshake with our GUID whose HMAC does not
        /// verify, or anything after a timeout or once the peer is lost.</summary>
        Discarded = 2,
    }

    /// <summary>
    /// RelayClientConfig as the C API takes it (relay_client_connect, relay_handshake_new).
    /// Pointer fields are borrowed for the call only; RelayClientOptions fills and pins them.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RelayClientConfig
    {
        public uint StructSize;
        public uint RetryIntervalMs;
        /// <summary>NUL-terminated UTF-8 "host:port".</summary>
        public IntPtr RelayAddress;
        public RelayGuid Guid;
        public IntPtr SecretKey;
        public UIntPtr SecretKeyLength;
        public uint RetryBackoffMaxMs;
        public uint HandshakeTimeoutMs;
        public uint KeepaliveIntervalMs;
        public uint MaxQueuedDatagrams;
        public uint RecvBufferBytes;
        public uint SendBufferBytes;
        /// <summary>The peer's seat token (RELAY_TOKEN_LEN or RELAY_TOKEN_V2_LEN bytes) or zero;
        /// copied by the library.</summary>
        public IntPtr Token;
        public UIntPtr TokenLength;
        /// <summary>Milliseconds of silence from the relay before an established client is
        /// Lost; 0 (the default) never. ABI 3.</summary>
        public uint PeerTimeoutMs;
    }

    /// <summary>Which seat of a channel a token is for (relay_token_mint's role).</summary>
    public enum RelayTokenRole : uint
    {
        /// <summary>RELAY_TOKEN_ROLE_A.</summary>
        A = 0,
        /// <summary>RELAY_TOKEN_ROLE_B.</summary>
        B = 1,
    }

    /// <summary>RelayProbeState: what a relay said of itself when measured
    /// (<see cref="RelayMeasurement.State"/>).</summary>
    public enum RelayProbeState : uint
    {
        /// <summary>Admitting new channels: join it.</summary>
        Accepting = 0,
        /// <summary>Draining: open channels still relay, new ones are refused.</summary>
        Draining = 1,
        /// <summary>At its channel limit: new channels are refused until some close.</summary>
        Full = 2,
    }

    /// <summary>One relay's result from <see cref="RelayMeasure.Measure"/> (relay_measure).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RelayMeasurement
    {
        /// <summary>Ok: the relay answered; TimedOut: no probe was answered within the
        /// timeout (unreachable); InvalidAddress: the text did not resolve.</summary>
        public RelayStatus Status;
        /// <summary>What the relay said in its latest reply (when Status is Ok).</summary>
        public RelayProbeState State;
        /// <summary>Median round-trip time in microseconds (when Status is Ok).</summary>
        public uint RttUs;
        public uint ProbesSent;
        public uint Replies;
        /// <summary>What the text resolved to (Family 0 when it did not).</summary>
        public RelayAddress Address;
    }
}
