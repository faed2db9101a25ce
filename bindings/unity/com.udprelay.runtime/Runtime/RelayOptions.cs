// How to start a relay: a managed view of RelayConfig with the library's defaults.
using System;

namespace UdpRelay
{
    /// <summary>Settings for <see cref="Relay.Start"/>, pre-filled with the library's defaults
    /// (dual-stack "::" port 6060, 30 s inactivity timeout, no key).</summary>
    public sealed class RelayOptions
    {
        /// <summary>UDP port; 0 picks an ephemeral one (read it back from Relay.Port).</summary>
        public ushort Port;
        /// <summary>IP address to bind ("0.0.0.0", "127.0.0.1", "::1"); null binds dual-stack "::".</summary>
        public string BindAddress;
        /// <summary>A channel closes after this many ms without traffic; must be &gt; 0.</summary>
        public uint InactivityTimeoutMs;
        /// <summary>Raw HMAC key bytes; null or empty accepts handshakes without checking the mac
        /// (which admits v0.8.2 clients run with their defaults too). <see cref="RelayKeys.V08Default"/>
        /// behaves as a v0.8.2 relay run with its defaults, and secures nothing: it is public.</summary>
        public byte[] SecretKey;
        /// <summary>New GUIDs are refused while this many channels are open; must be &gt; 0.</summary>
        public uint MaxChannels;
        /// <summary>SO_RCVBUF / SO_SNDBUF to request; 0 keeps the system default.</summary>
        public uint RecvBufferBytes;
        public uint SendBufferBytes;
        /// <summary>Most datagrams one Poll handles; must be &gt; 0.</summary>
        public uint MaxDatagramsPerPoll;
        /// <summary>Most queued events; the rest are counted in RelayStats.EventsDropped.</summary>
        public uint MaxPendingEvents;
        /// <summary>Handshakes per second one source (IPv4 address or IPv6 /64) may have verified; 0 = unlimited.</summary>
        public uint HandshakeRatePerSource;
        /// <summary>Handshakes one source may send in a burst; must be &gt; 0 when limiting.</summary>
        public uint HandshakeBurstPerSource;
        /// <summary>Half-open channels one source may hold; 0 = unlimited.</summary>
        public uint MaxPendingPerSource;
        /// <summary>Sources whose handshake rate is tracked at once; must be &gt; 0.</summary>
        public uint MaxTrackedSources;
        /// <summary>Bytes per second each direction of a channel may carry; 0 = no cap.</summary>
        public uint ChannelBandwidthBytesPerSec;
        /// <summary>Admit only handshakes carrying a valid seat token (needs SecretKey).</summary>
        public bool RequireTokens;
        /// <summary>Plain handshakes too must prove their return path (echo the relay's cookie)
        /// before anything is forwarded to them; token handshakes always must. Clients of this
        /// library answer; other v0.8 clients cannot.</summary>
        public bool RequireReturnPath;
        /// <summary>This relay's id in a fleet: it admits relay-bound (v2) seat tokens minted
        /// for this id only (<see cref="RelayToken.MintForRelay(byte[], uint, uint, RelayGuid, RelayTokenRole, ulong)"/>)
        /// and counts authentic ones for another id in RelayStats.HandshakesWrongRelay. 0 (the
        /// default): no id, no v2 token is for this relay.</summary>
        public uint RelayId;
        /// <summary>The id of <see cref="SecretKey"/>, which v2 tokens name.</summary>
        public uint KeyId;
        /// <summary>During a key rotation, the key <see cref="SecretKey"/> replaces: tokens and
        /// handshakes made with it stay admitted. Null or empty: no rotation.</summary>
        public byte[] PreviousSecretKey;
        /// <summary>The id of <see cref="PreviousSecretKey"/> (not <see cref="KeyId"/>).</summary>
        public uint PreviousKeyId;
        /// <summary>Refuse v1 seat tokens (valid on every relay holding the key), admitting only
        /// relay-bound (v2) ones; needs SecretKey and RelayId.</summary>
        public bool RequireTokenV2;
        /// <summary>Microseconds <see cref="Relay.Poll(uint)"/> with a timeout lets datagrams gather
        /// after a call that found the socket nearly empty, so one wake-up relays many datagrams at
        /// game rates: less CPU per datagram for up to this much more latency per pass through the
        /// relay. Poll without a timeout never waits. 0 (the default) to 5000.</summary>
        public uint CoalesceWindowUs;

        public RelayOptions()
        {
            RelayConfig c = Defaults();
            Port = c.Port;
            InactivityTimeoutMs = c.InactivityTimeoutMs;
            MaxChannels = c.MaxChannels;
            RecvBufferBytes = c.RecvBufferBytes;
            SendBufferBytes = c.SendBufferBytes;
            MaxDatagramsPerPoll = c.MaxDatagramsPerPoll;
            MaxPendingEvents = c.MaxPendingEvents;
            HandshakeRatePerSource = c.HandshakeRatePerSource;
            HandshakeBurstPerSource = c.HandshakeBurstPerSource;
            MaxPendingPerSource = c.MaxPendingPerSource;
            MaxTrackedSources = c.MaxTrackedSources;
            ChannelBandwidthBytesPerSec = c.ChannelBandwidthBytesPerSec;
            RequireTokens = c.RequireTokens != 0;
            RequireReturnPath = c.RequireReturnPath != 0;
            RelayId = c.RelayId;
            KeyId = c.KeyId;
            PreviousKeyId = c.PreviousKeyId;
            RequireTokenV2 = c.RequireTokenV2 != 0;
            CoalesceWindowUs = c.CoalesceWindowUs;
        }

        internal static RelayConfig Defaults()
        {
            RelayLibrary.EnsureLoaded();
            RelayConfig c;
            RelayException.Check(Native.relay_config_default(out c));
            return c;
        }

        /// <summary>The RelayConfig for these options, pointers left for the caller to pin.</summary>
        internal RelayConfig ToConfig()
        {
            RelayConfig c = Defaults();
            c.Port = Port;
            c.InactivityTimeoutMs = InactivityTimeoutMs;
            c.MaxChannels = MaxChannels;
            c.RecvBufferBytes = RecvBufferBytes;
            c.SendBufferBytes = SendBufferBytes;
            c.MaxDatagramsPerPoll = MaxDatagramsPerPoll;
            c.MaxPendingEvents = MaxPendingEvents;
            c.HandshakeRatePerSource = HandshakeRatePerSource;
            c.HandshakeBurstPerSource = HandshakeBurstPerSource;
            c.MaxPendingPerSource = MaxPendingPerSource;
            c.MaxTrackedSources = MaxTrackedSources;
            c.ChannelBandwidthBytesPerSec = ChannelBandwidthBytesPerSec;
            c.RequireTokens = RequireTokens ? 1u : 0u;
            c.RequireReturnPath = (ushort)(RequireReturnPath ? 1 : 0);
            c.RelayId = RelayId;
            c.KeyId = KeyId;
            c.PreviousKeyId = PreviousKeyId;
            c.RequireTokenV2 = RequireTokenV2 ? 1u : 0u;
            c.CoalesceWindowUs = CoalesceWindowUs;
            return c;
        }
    }
}
