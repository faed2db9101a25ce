// A client of a relay with its own UDP socket, owned by managed code: connect, poll every
// frame, send and receive game datagrams once the peer has joined.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    /// <summary>
    /// Joins a channel through a relay with a UDP socket the library owns. Connect with
    /// <see cref="Connect"/>, call <see cref="Poll"/> every frame (it receives, retries
    /// handshakes and sends keep-alives), and once <see cref="State"/> is
    /// <see cref="RelayClientState.Established"/> exchange datagrams with <see cref="Send"/>
    /// and <see cref="TryReceive"/>. When the peer never comes (<see cref="RelayClientState.TimedOut"/>)
    /// or an established channel goes silent (<see cref="RelayClientState.Lost"/>), Poll says so
    /// through <see cref="State"/>, <see cref="StateChanged"/> and <see cref="Failure"/> rather
    /// than by throwing. Dispose it to close the socket. Nothing here allocates per poll or per
    /// packet. Drive it from one thread (the game thread).
    /// </summary>
    public sealed class RelayClient : IDisposable
    {
        private readonly RelayClientSafeHandle _handle;
        // The state StateChanged last reported (Handshaking from Connect).
        private RelayClientState _reported = RelayClientState.Handshaking;
        private RelayException _failure;

        private RelayClient(RelayClientSafeHandle handle)
        {
            _handle = handle;
        }

        /// <summary>Raised by <see cref="Poll"/>, on the thread that polls, each time
        /// <see cref="State"/> has changed since the previous Poll: to
        /// <see cref="RelayClientState.Established"/> when the peer joined, to
        /// <see cref="RelayClientState.TimedOut"/> or <see cref="RelayClientState.Lost"/> when the
        /// client is finished (see <see cref="Failure"/> for why). A handler may dispose the
        /// client.</summary>
        public event Action<RelayClient, RelayClientState> StateChanged;

        /// <summary>Why the client finished: a RelayException with status
        /// <see cref="RelayStatus.TimedOut"/> or <see cref="RelayStatus.PeerLost"/> and the
        /// library's explanation (which relay, which channel, which setting). Null while the
        /// client is handshaking or established.</summary>
        public RelayException Failure { get { return _failure; } }

        /// <summary>Opens the socket and sends the first handshake; the client is then
        /// <see cref="RelayClientState.Handshaking"/> until the peer joins. Throws
        /// RelayException (status and the library's message) on a bad option (zero GUID,
        /// inconsistent timing, a token that is not 60 bytes or is for another GUID), an
        /// address that does not resolve, or a socket error.
        /// <para>A host name in <see cref="RelayClientOptions.RelayAddress"/> is resolved here,
        /// on the calling thread, by the system resolver, which blocks until it answers:
        /// seconds when DNS is slow or the network is down, a frozen frame on the game
        /// thread. An IP address ("203.0.113.7:6060", "[2001:db8::7]:6060") never blocks.
        /// Resolve the name first off the game thread (System.Net.Dns.GetHostAddressesAsync)
        /// and pass the address, or call Connect from a worker thread (Task.Run) and use the
        /// client from the game thread once the task has completed.</para></summary>
        public static unsafe RelayClient Connect(RelayClientOptions options)
        {
            if (options == null) throw new ArgumentNullException("options");
            RelayClientConfig config = options.ToConfig();
            byte[] address = options.RelayAddress == null ? null : Utf8.ToNullTerminated(options.RelayAddress);
            byte[] key = options.SecretKey;
            byte[] token = options.Token;
            IntPtr client;
            RelayStatus status;
            fixed (byte* addressPtr = address)
            fixed (byte* keyPtr = key)
            fixed (byte* tokenPtr = token)
            {
                config.RelayAddress = (IntPtr)addressPtr;
                config.SecretKey = (IntPtr)keyPtr;
                config.SecretKeyLength = (UIntPtr)(uint)(key == null ? 0 : key.Length);
                config.Token = (IntPtr)tokenPtr;
                config.TokenLength = (UIntPtr)(uint)(token == null ? 0 : token.Length);
                status = Native.relay_client_connect(ref config, out client);
            }
            RelayException.Check(status);
            return new RelayClient(new RelayClientSafeHandle(client));
        }

        /// <summary>The owned native handle, for calling <see cref="Native"/> directly.</summary>
        public RelayClientSafeHandle Handle { get { return _handle; } }

        public bool IsDisposed { get { return _handle.IsClosed; } }

        /// <summary>The local UDP port of the client's socket.</summary>
        public ushort LocalPort
        {
            get
            {
                bool added = false;
                try
                {
                    return Native.relay_client_local_port(Acquire(ref added));
                }
                finally
                {
                    if (added) _handle.DangerousRelease();
                }
            }
        }

        /// <summary>Where the client stands. TimedOut and Lost are final until
        /// <see cref="Rejoin"/>.</summary>
        public RelayClientState State
        {
            get
            {
                bool added = false;
                RelayClientState result;
                try
                {
                    int state = Native.relay_client_state(Acquire(ref added));
                    if (state < 0) throw RelayException.FromLastError((RelayStatus)state);
                    result = (RelayClientState)state;
                }
                finally
                {
                    if (added) _handle.DangerousRelease();
                }
                // The native state moves on its clock, so it can turn TimedOut or Lost here
                // before any Poll saw it: one Poll records why (Failure) and raises StateChanged,
                // so the three always agree. In those states Poll does nothing else.
                if ((result == RelayClientState.TimedOut || result == RelayClientState.Lost) && _failure == null)
                    Poll(0);
                return result;
            }
        }

        /// <summary>
        /// Receives what is pending, sends handshakes and keep-alives that are due, waits at
        /// most <paramref name="timeoutMs"/> (0: never block, for a game loop), and returns the
        /// number of datagrams ready for <see cref="TryReceive"/>. Call it every frame, also
        /// once established; it raises <see cref="StateChanged"/> when the state moved.
        /// When the peer has not shown up within <see cref="RelayClientOptions.HandshakeTimeoutMs"/>
        /// the state becomes <see cref="RelayClientState.TimedOut"/>; when an established channel
        /// went silent for <see cref="RelayClientOptions.PeerTimeoutMs"/> (and the datagrams still
        /// queued have been received) it becomes <see cref="RelayClientState.Lost"/>. Either way
        /// Poll then returns 0, <see cref="Failure"/> says why, and the client is finished
        /// until <see cref="Rejoin"/> (or dispose it and connect again). Throws
        /// RelayException only for a socket error.
        /// </summary>
        public int Poll(uint timeoutMs = 0)
        {
            bool added = false;
            int ready;
            RelayClientState state;
            try
            {
                IntPtr handle = Acquire(ref added);
                ready = Native.relay_client_poll(handle, timeoutMs);
                if (ready < 0)
                {
                    RelayStatus status = (RelayStatus)ready;
                    if (status != RelayStatus.TimedOut && status != RelayStatus.PeerLost)
                        throw RelayException.FromLastError(status);
                    if (_failure == null) _failure = RelayException.FromLastError(status);
                    ready = 0;
                }
                int raw = Native.relay_client_state(handle);
                state = raw < 0 ? _reported : (RelayClientState)raw;
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
            if (state != _reported)
            {
                _reported = state;
                Action<RelayClient, RelayClientState> handler = StateChanged;
                if (handler != null) handler(this, state);
            }
            return ready;
        }

        /// <summary>
        /// Sends <paramref name="count"/> bytes of <paramref name="buffer"/> from
        /// <paramref name="offset"/> as one datagram to the peer (at most
        /// <see cref="Native.MaxDatagram"/>). Returns false, sending nothing, when the socket's
        /// send buffer is full (try again after the next Poll). Throws RelayException with
        /// <see cref="RelayStatus.NotEstablished"/> while handshaking,
        /// <see cref="RelayStatus.TimedOut"/> after a timeout, <see cref="RelayStatus.PeerLost"/>
        /// once the peer is lost, or on a socket error.
        /// </summary>
        public unsafe bool Send(byte[] buffer, int offset, int count)
        {
            BufferRange.Check(buffer, offset, count, "buffer");
            fixed (byte* p = buffer)
            {
                return SendRaw(p + offset, count);
            }
        }

        /// <summary>
        /// Moves the oldest datagram from the peer into <paramref name="buffer"/> at
        /// <paramref name="offset"/> (at most <paramref name="count"/> bytes) and returns true
        /// with its <paramref name="length"/>; false when none is queued (or the channel is not
        /// established yet). A datagram larger than <paramref name="count"/> is not truncated:
        /// RelayException with <see cref="RelayStatus.BufferTooSmall"/> says its size and it
        /// stays queued for a call with a larger buffer (<see cref="Native.MaxDatagram"/> bytes
        /// always suffice). Throws RelayException with <see cref="RelayStatus.TimedOut"/> after
        /// a timeout, and with <see cref="RelayStatus.PeerLost"/> once the peer is lost and
        /// nothing is left queued.
        /// </summary>
        public unsafe bool TryReceive(byte[] buffer, int offset, int count, out int length)
        {
            BufferRange.Check(buffer, offset, count, "buffer");
            fixed (byte* p = buffer)
            {
                return TryReceiveRaw(p + offset, count, out length);
            }
        }

#if UDP_RELAY_SPAN || UNITY_2021_2_OR_NEWER
        /// <summary>Sends <paramref name="datagram"/> as one datagram; see
        /// <see cref="Send(byte[], int, int)"/>.</summary>
        public unsafe bool Send(ReadOnlySpan<byte> datagram)
        {
            // C# 7.2 cannot fix a span directly; its first element's reference pins it.
            fixed (byte* p = &MemoryMarshal.GetReference(datagram))
            {
                return SendRaw(p, datagram.Length);
            }
        }

        /// <summary>Receives into <paramref name="buffer"/>; see
        /// <see cref="TryReceive(byte[], int, int, out int)"/>.</summary>
        public unsafe bool TryReceive(Span<byte> buffer, out int length)
        {
            fixed (byte* p = &MemoryMarshal.GetReference(buffer))
            {
                return TryReceiveRaw(p, buffer.Length, out length);
            }
        }
#endif

        /// <summary>
        /// Joins another channel, usually through another relay, with the same socket (same
        /// <see cref="LocalPort"/>), handle, options and <see cref="StateChanged"/> handlers:
        /// when the relay was lost (<see cref="RelayClientState.Lost"/>) or is draining (see
        /// <see cref="RelayMeasure"/>), ask your matchmaker for a new ticket and pass it here.
        /// Works in any state. The handshake starts over: <see cref="State"/> is
        /// <see cref="RelayClientState.Handshaking"/> (the next Poll raises StateChanged),
        /// <see cref="Failure"/> is cleared, and until the new channel is established
        /// <see cref="Send(byte[], int, int)"/> throws RelayException
        /// <see cref="RelayStatus.NotEstablished"/> as for any client still handshaking.
        /// Datagrams already queued stay for <see cref="TryReceive(byte[], int, int, out int)"/>.
        /// With a <paramref name="token"/> the GUID may be default (the token's). Throws
        /// ArgumentNullException for a null address, RelayException (the client unchanged)
        /// with <see cref="RelayStatus.InvalidArgument"/> for a zero GUID without a token, a
        /// bad token or a GUID other than the token's, and <see cref="RelayStatus.InvalidAddress"/>
        /// for an address that does not resolve or an IPv6 relay from an IPv4 socket. A host
        /// name is resolved here, blocking, as in <see cref="Connect"/>.
        /// </summary>
        public unsafe void Rejoin(string relayAddress, RelayGuid guid, byte[] token = null)
        {
            if (relayAddress == null) throw new ArgumentNullException("relayAddress");
            byte[] address = Utf8.ToNullTerminated(relayAddress);
            bool added = false;
            try
            {
                IntPtr handle = Acquire(ref added);
                RelayStatus status;
                fixed (byte* addressPtr = address)
                fixed (byte* tokenPtr = token)
                {
                    status = Native.relay_client_rejoin(handle, addressPtr, ref guid, tokenPtr,
                        (UIntPtr)(uint)(token == null ? 0 : token.Length));
                }
                RelayException.Check(status);
                _failure = null;
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        /// <summary>Closes the socket and frees the client (relay_client_close); queued
        /// datagrams are dropped. Safe to call twice.</summary>
        public void Dispose()
        {
            _handle.Dispose();
        }

        private unsafe bool SendRaw(byte* data, int count)
        {
            bool added = false;
            try
            {
                RelayStatus status = Native.relay_client_send(Acquire(ref added), data, (UIntPtr)(uint)count);
                if (status == RelayStatus.WouldBlock) return false;
                RelayException.Check(status);
                return true;
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        private unsafe bool TryReceiveRaw(byte* buffer, int count, out int length)
        {
            bool added = false;
            try
            {
                UIntPtr received;
                RelayStatus status = Native.relay_client_recv(Acquire(ref added), buffer, (UIntPtr)(uint)count, out received);
                if (status == RelayStatus.WouldBlock || status == RelayStatus.NotEstablished)
                {
                    length = 0;
                    return false;
                }
                RelayException.Check(status);
                length = (int)(uint)received;
                return true;
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        // Keeps the handle alive for the duration of one native call, so a Dispose on
        // another thread cannot close the client underneath it.
        private IntPtr Acquire(ref bool added)
        {
            if (_handle.IsClosed) throw new ObjectDisposedException("RelayClient", "the client was disposed (closed)");
            _handle.DangerousAddRef(ref added);
            return _handle.DangerousGetHandle();
        }
    }
}
