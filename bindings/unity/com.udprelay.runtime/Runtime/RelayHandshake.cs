// The handshake state machine for engines that own their UDP socket (Unity Transport, a
// System.Net.Sockets socket): it says what to send to the relay and classifies what comes
// back; the engine does all socket I/O. Also the pure handshake write/validate functions.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    /// <summary>
    /// Joins a channel over a socket the engine owns. Every tick:
    /// <list type="number">
    /// <item>pass each datagram received from the relay's address to <see cref="Receive"/>
    /// and hand it to the game only when that returns <see cref="RelayDatagramKind.Data"/>;</item>
    /// <item>call <see cref="Poll"/> and send the bytes it wrote (if any) to the relay;</item>
    /// <item>call <see cref="OnDataSent"/> whenever the game sent a datagram, so keep-alives
    /// go out only when the game is quiet.</item>
    /// </list>
    /// <see cref="NextTimeoutMs"/> says how long the engine may wait before Poll is due.
    /// Nothing here allocates per call. Dispose it to free the machine.
    /// </summary>
    public sealed class RelayHandshake : IDisposable
    {
        private readonly RelayHandshakeSafeHandle _handle;

        private RelayHandshake(RelayHandshakeSafeHandle handle)
        {
            _handle = handle;
        }

        /// <summary>Starts a machine for <see cref="RelayClientOptions.Guid"/> with the
        /// options' key, token and timing (RelayAddress, queue and socket buffer sizes are
        /// ignored). The first handshake is due at once: call <see cref="Poll"/>. Throws
        /// RelayException on a zero GUID, inconsistent timing or a bad token.</summary>
        public static unsafe RelayHandshake Create(RelayClientOptions options)
        {
            if (options == null) throw new ArgumentNullException("options");
            RelayClientConfig config = options.ToConfig();
            byte[] key = options.SecretKey;
            byte[] token = options.Token;
            IntPtr handshake;
            RelayStatus status;
            fixed (byte* keyPtr = key)
            fixed (byte* tokenPtr = token)
            {
                config.SecretKey = (IntPtr)keyPtr;
                config.SecretKeyLength = (UIntPtr)(uint)(key == null ? 0 : key.Length);
                config.Token = (IntPtr)tokenPtr;
                config.TokenLength = (UIntPtr)(uint)(token == null ? 0 : token.Length);
                status = Native.relay_handshake_new(ref config, out handshake);
            }
            RelayException.Check(status);
            return new RelayHandshake(new RelayHandshakeSafeHandle(handshake));
        }

        /// <summary>Starts over for another channel with your matchmaker's new ticket (the
        /// relay was lost or drains): from now on send to the new relay and pass
        /// <see cref="Receive(byte[], int, int)"/> only what comes from there. The key and
        /// timing stay; the first handshake is due at once. With a <paramref name="token"/>
        /// the GUID may be default (the token's). Throws RelayException
        /// (<see cref="RelayStatus.InvalidArgument"/>, the machine unchanged) for a zero GUID
        /// without a token, a bad token or a GUID other than the token's.</summary>
        public unsafe void Rejoin(RelayGuid guid, byte[] token = null)
        {
            bool added = false;
            try
            {
                IntPtr handle = Acquire(ref added);
                RelayStatus status;
                fixed (byte* tokenPtr = token)
                {
                    status = Native.relay_handshake_rejoin(handle, ref guid, tokenPtr,
                        (UIntPtr)(uint)(token == null ? 0 : token.Length));
                }
                RelayException.Check(status);
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        /// <summary>The owned native handle, for calling <see cref="Native"/> directly.</summary>
        public RelayHandshakeSafeHandle Handle { get { return _handle; } }

        public bool IsDisposed { get { return _handle.IsClosed; } }

        /// <summary>Where the machine stands (a passed handshake deadline counts: TimedOut; so
        /// does a passed peer timeout: Lost).</summary>
        public RelayClientState State
        {
            get
            {
                bool added = false;
                try
                {
                    int state = Native.relay_handshake_state(Acquire(ref added));
                    if (state < 0) throw RelayException.FromLastError((RelayStatus)state);
                    return (RelayClientState)state;
                }
                finally
                {
                    if (added) _handle.DangerousRelease();
                }
            }
        }

        /// <summary>Milliseconds that may pass before <see cref="Poll"/> has something to do
        /// (0: call it now), or <see cref="Native.NoTimeout"/> (uint.MaxValue) when it never
        /// will (timed out, lost, or established with neither keep-alives nor a peer
        /// timeout).</summary>
        public uint NextTimeoutMs
        {
            get
            {
                bool added = false;
                try
                {
                    uint ms;
                    RelayException.Check(Native.relay_handshake_next_timeout(Acquire(ref added), out ms));
                    return ms;
                }
                finally
                {
                    if (added) _handle.DangerousRelease();
                }
            }
        }

        /// <summary>
        /// If a handshake (first try, retry, answer or keep-alive) is due, writes it into
        /// <paramref name="buffer"/> at <paramref name="offset"/> and returns its length
        /// (<see cref="Native.HandshakeLength"/>, <see cref="Native.TokenHandshakeLength"/> with a
        /// v1 token, <see cref="Native.TokenV2HandshakeLength"/> with a v2 one; 16 more once it
        /// echoes the relay's return-path cookie): send those bytes to the relay. Returns 0 when nothing is due. Throws
        /// RelayException with <see cref="RelayStatus.TimedOut"/> once the channel was not
        /// established in time, with <see cref="RelayStatus.PeerLost"/> once the established
        /// channel went silent for the peer timeout (both final: check <see cref="State"/>),
        /// and with
        /// <see cref="RelayStatus.BufferTooSmall"/> when the buffer is shorter than the
        /// handshake (the handshake stays due; <see cref="Native.MaxHandshakeLength"/> bytes
        /// always fit).
        /// </summary>
        public unsafe int Poll(byte[] buffer, int offset, int count)
        {
            BufferRange.Check(buffer, offset, count, "buffer");
            fixed (byte* p = buffer)
            {
                return PollRaw(p + offset, count);
            }
        }

        /// <summary>
        /// Classifies one datagram received from the relay's address (filter out other
        /// sources first) and updates the machine. Only <see cref="RelayDatagramKind.Data"/>
        /// is game data; <see cref="RelayDatagramKind.Handshake"/> means an answer may be due
        /// (call <see cref="Poll"/>).
        /// </summary>
        public unsafe RelayDatagramKind Receive(byte[] datagram, int offset, int count)
        {
            BufferRange.Check(datagram, offset, count, "datagram");
            fixed (byte* p = datagram)
            {
                return ReceiveRaw(p + offset, count);
            }
        }

#if UDP_RELAY_SPAN || UNITY_2021_2_OR_NEWER
        /// <summary>Writes a due handshake into <paramref name="buffer"/>; see
        /// <see cref="Poll(byte[], int, int)"/>.</summary>
        public unsafe int Poll(Span<byte> buffer)
        {
            // C# 7.2 cannot fix a span directly; its first element's reference pins it.
            fixed (byte* p = &MemoryMarshal.GetReference(buffer))
            {
                return PollRaw(p, buffer.Length);
            }
        }

        /// <summary>Classifies <paramref name="datagram"/>; see
        /// <see cref="Receive(byte[], int, int)"/>.</summary>
        public unsafe RelayDatagramKind Receive(ReadOnlySpan<byte> datagram)
        {
            fixed (byte* p = &MemoryMarshal.GetReference(datagram))
            {
                return ReceiveRaw(p, datagram.Length);
            }
        }
#endif

        /// <summary>Tells the machine the game just sent a datagram to the peer, postponing the
        /// keep-alive.</summary>
        public void OnDataSent()
        {
            bool added = false;
            try
            {
                RelayException.Check(Native.relay_handshake_on_data_sent(Acquire(ref added)));
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        /// <summary>Frees the machine (relay_handshake_free). Safe to call twice.</summary>
        public void Dispose()
        {
            _handle.Dispose();
        }

        /// <summary>
        /// Writes the v0.8 handshake for <paramref name="guid"/> (flags 0, no extension; the
        /// HMAC filled in with <paramref name="secretKey"/>, zero without one) into
        /// <paramref name="buffer"/> at <paramref name="offset"/> and returns its length (56).
        /// Throws RelayException for a zero GUID or fewer than 56 bytes.
        /// </summary>
        public static unsafe int Write(RelayGuid guid, byte[] secretKey, byte[] buffer, int offset, int count)
        {
            BufferRange.Check(buffer, offset, count, "buffer");
            RelayLibrary.EnsureLoaded();
            int n;
            fixed (byte* p = buffer)
            fixed (byte* key = secretKey)
            {
                n = Native.relay_handshake_write(p + offset, (UIntPtr)(uint)count, ref guid, key, KeyLength(secretKey));
            }
            if (n < 0) throw RelayException.FromLastError((RelayStatus)n);
            return n;
        }

        /// <summary>Whether the bytes are a valid v0.8 handshake for <paramref name="guid"/>
        /// (with <paramref name="secretKey"/> the HMAC must verify; without, the mac field is
        /// not looked at). <see cref="Validate"/> says why not.</summary>
        public static bool IsValid(byte[] datagram, int offset, int count, RelayGuid guid, byte[] secretKey)
        {
            RelayStatus status = Parse(datagram, offset, count, guid, secretKey);
            if (status == RelayStatus.InvalidHandshake) return false;
            RelayException.Check(status);
            return true;
        }

        /// <summary>Like <see cref="IsValid"/>, but throws RelayException with
        /// <see cref="RelayStatus.InvalidHandshake"/> and the reason (too short, bad magic,
        /// zero or another GUID, HMAC does not verify).</summary>
        public static void Validate(byte[] datagram, int offset, int count, RelayGuid guid, byte[] secretKey)
        {
            RelayException.Check(Parse(datagram, offset, count, guid, secretKey));
        }

        private static unsafe RelayStatus Parse(byte[] datagram, int offset, int count, RelayGuid guid, byte[] secretKey)
        {
            BufferRange.Check(datagram, offset, count, "datagram");
            RelayLibrary.EnsureLoaded();
            fixed (byte* p = datagram)
            fixed (byte* key = secretKey)
            {
                return Native.relay_handshake_parse(p + offset, (UIntPtr)(uint)count, ref guid, key, KeyLength(secretKey));
            }
        }

        private static UIntPtr KeyLength(byte[] secretKey)
        {
            return (UIntPtr)(uint)(secretKey == null ? 0 : secretKey.Length);
        }

        private unsafe int PollRaw(byte* buffer, int count)
        {
            bool added = false;
            try
            {
                int n = Native.relay_handshake_poll(Acquire(ref added), buffer, (UIntPtr)(uint)count);
                if (n < 0) throw RelayException.FromLastError((RelayStatus)n);
                return n;
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        private unsafe RelayDatagramKind ReceiveRaw(byte* datagram, int count)
        {
            bool added = false;
            try
            {
                int kind = Native.relay_handshake_receive(Acquire(ref added), datagram, (UIntPtr)(uint)count);
                if (kind < 0) throw RelayException.FromLastError((RelayStatus)kind);
                return (RelayDatagramKind)kind;
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        // Keeps the handle alive for the duration of one native call, so a Dispose on
        // another thread cannot free the machine underneath it.
        private IntPtr Acquire(ref bool added)
        {
            if (_handle.IsClosed) throw new ObjectDisposedException("RelayHandshake", "the handshake was disposed (freed)");
            _handle.DangerousAddRef(ref added);
            return _handle.DangerousGetHandle();
        }
    }
}
