// Picking a relay: the round-trip time and state of each relay of a list, measured with the
// relay probe from a socket of the call's own.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    /// <summary>
    /// Times relays to pick the nearest one accepting channels, e.g. the regions your
    /// matchmaker offers. <see cref="Measure"/> blocks (names are resolved, then up to the
    /// timeout passes: exactly that long when a relay does not answer), so call it from
    /// Task.Run or at a loading screen, not every frame.
    /// </summary>
    public static class RelayMeasure
    {
        /// <summary>Times each relay ("host:port", "1.2.3.4:port", "[v6]:port") with up to
        /// <paramref name="attempts"/> probes (1 to <see cref="Native.MaxMeasureAttempts"/>)
        /// within <paramref name="timeoutMs"/> (1 to <see cref="Native.MaxMeasureTimeoutMs"/>)
        /// and returns one <see cref="RelayMeasurement"/> per relay, in the same order. The
        /// probes leave from a socket of the call's own, so it works while a
        /// <see cref="RelayClient"/> is in a channel. Throws ArgumentNullException for a null
        /// list or entry, RelayException (InvalidArgument, Io) for a bad count or timeout or
        /// a socket error.</summary>
        public static unsafe RelayMeasurement[] Measure(string[] relays, uint attempts = 3, uint timeoutMs = 1000)
        {
            if (relays == null) throw new ArgumentNullException("relays");
            RelayLibrary.EnsureLoaded();
            RelayMeasurement[] results = new RelayMeasurement[relays.Length];
            GCHandle[] pins = new GCHandle[relays.Length];
            IntPtr[] pointers = new IntPtr[relays.Length];
            try
            {
                for (int i = 0; i < relays.Length; i++)
                {
                    if (relays[i] == null) throw new ArgumentNullException("relays", "relays[" + i + "] is null");
                    pins[i] = GCHandle.Alloc(Utf8.ToNullTerminated(relays[i]), GCHandleType.Pinned);
                    pointers[i] = pins[i].AddrOfPinnedObject();
                }
                int n;
                fixed (IntPtr* list = pointers)
                fixed (RelayMeasurement* output = results)
                {
                    // A zero-length array has no address to pin; the library wants non-NULL.
                    IntPtr none = IntPtr.Zero;
                    RelayMeasurement spare;
                    n = Native.relay_measure(list != null ? list : &none, (UIntPtr)(uint)relays.Length, attempts, timeoutMs,
                        output != null ? output : &spare, (UIntPtr)(uint)results.Length);
                }
                if (n < 0) throw RelayException.FromLastError((RelayStatus)n);
                return results;
            }
            finally
            {
                for (int i = 0; i < pins.Length; i++)
                {
                    if (pins[i].IsAllocated) pins[i].Free();
                }
            }
        }

        /// <summary>The index of the relay to join: the lowest round trip among those that
        /// answered and accept new channels, or -1 when none does.</summary>
        public static int Nearest(RelayMeasurement[] measurements)
        {
            if (measurements == null) throw new ArgumentNullException("measurements");
            int best = -1;
            for (int i = 0; i < measurements.Length; i++)
            {
                RelayMeasurement m = measurements[i];
                if (m.Status != RelayStatus.Ok || m.State != RelayProbeState.Accepting) continue;
                if (best < 0 || m.RttUs < measurements[best].RttUs) best = i;
            }
            return best;
        }
    }
}
