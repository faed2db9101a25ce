// An embedded relay owned by managed code: start it, tick it every frame, read its events.
using System;

namespace UdpRelay
{
    /// <summary>
    /// An embedded relay. Start it with <see cref="Start"/>, call <see cref="Poll"/> every
    /// frame (or in a loop), drain <see cref="TryGetNextEvent"/>, and Dispose it to close the
    /// socket. Nothing here allocates per poll, per event or per packet. Calls may come from
    /// any thread (the library serialises them) but are meant for one: the game thread.
    /// </summary>
    public sealed class Relay : IDisposable
    {
        private readonly RelaySafeHandle _handle;

        private Relay(RelaySafeHandle handle)
        {
            _handle = handle;
        }

        /// <summary>Binds a relay. Throws RelayException (status and the library's message)
        /// on a bad option or a socket error.</summary>
        public static unsafe Relay Start(RelayOptions options)
        {
            if (options == null) throw new ArgumentNullException("options");
            RelayConfig config = options.ToConfig();
            byte[] bind = options.BindAddress == null ? null : Utf8.ToNullTerminated(options.BindAddress);
            byte[] key = options.SecretKey;
            byte[] previous = options.PreviousSecretKey;
            IntPtr relay;
            RelayStatus status;
            fixed (byte* bindPtr = bind)
            fixed (byte* keyPtr = key)
            fixed (byte* previousPtr = previous)
            {
                config.BindAddress = (IntPtr)bindPtr;
                config.SecretKey = (IntPtr)keyPtr;
                config.SecretKeyLength = (UIntPtr)(uint)(key == null ? 0 : key.Length);
                config.PreviousSecretKey = (IntPtr)previousPtr;
                config.PreviousSecretKeyLength = (UIntPtr)(uint)(previous == null ? 0 : previous.Length);
                status = Native.relay_start(ref config, out relay);
            }
            RelayException.Check(status);
            return new Relay(new RelaySafeHandle(relay));
        }

        /// <summary>The owned native handle, for calling <see cref="Native"/> directly.</summary>
        public RelaySafeHandle Handle { get { return _handle; } }

        public bool IsDisposed { get { return _handle.IsClosed; } }

        /// <summary>The UDP port the relay is bound to.</summary>
        public ushort Port
        {
            get
            {
                bool added = false;
                try
                {
                    return Native.relay_local_port(Acquire(ref added));
                }
                finally
                {
                    if (added) _handle.DangerousRelease();
                }
            }
        }

        /// <summary>Relays what is pending, waiting at most <paramref name="timeoutMs"/> for
        /// traffic (0: never block, for a game loop), expires idle channels, and returns the
        /// number of datagrams handled.</summary>
        public int Poll(uint timeoutMs = 0)
        {
            bool added = false;
            try
            {
                int n = Native.relay_poll(Acquire(ref added), timeoutMs);
                if (n < 0) throw RelayException.FromLastError((RelayStatus)n);
                return n;
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        /// <summary>Takes the oldest queued event; false when there is none. Drain it every
        /// tick: past RelayOptions.MaxPendingEvents new events are dropped and counted.</summary>
        public bool TryGetNextEvent(out RelayEvent ev)
        {
            bool added = false;
            try
            {
                int n = Native.relay_next_event(Acquire(ref added), out ev, Native.RelayEventSize);
                if (n < 0) throw RelayException.FromLastError((RelayStatus)n);
                return n == 1;
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        /// <summary>Relay-wide counters since start.</summary>
        public RelayStats Stats
        {
            get
            {
                RelayStats stats;
                GetStats(out stats);
                return stats;
            }
        }

        /// <summary>Relay-wide counters since start, without copying through a return value.</summary>
        public void GetStats(out RelayStats stats)
        {
            bool added = false;
            try
            {
                RelayException.Check(Native.relay_get_stats(Acquire(ref added), out stats, Native.RelayStatsSize));
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        /// <summary>Counters of the open channel <paramref name="guid"/>; false if no such
        /// channel is open.</summary>
        public bool TryGetChannel(RelayGuid guid, out RelayChannelCounters counters)
        {
            bool added = false;
            try
            {
                RelayStatus status = Native.relay_get_channel(Acquire(ref added), ref guid, out counters);
                if (status == RelayStatus.InvalidArgument) return false;
                RelayException.Check(status);
                return true;
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        /// <summary>Stops accepting new channels; open ones keep relaying until they expire,
        /// then a <see cref="RelayEventKind.Drained"/> event follows. Harmless to repeat.</summary>
        public void Drain()
        {
            bool added = false;
            try
            {
                RelayException.Check(Native.relay_drain(Acquire(ref added)));
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
        }

        /// <summary>Closes the socket and frees the relay (relay_stop). Safe to call twice.</summary>
        public void Dispose()
        {
            _handle.Dispose();
        }

        // Keeps the handle alive for the duration of one native call, so a Dispose on
        // another thread cannot stop the relay underneath it.
        private IntPtr Acquire(ref bool added)
        {
            if (_handle.IsClosed) throw new ObjectDisposedException("Relay", "the relay was disposed (stopped)");
            _handle.DangerousAddRef(ref added);
            return _handle.DangerousGetHandle();
        }
    }
}
