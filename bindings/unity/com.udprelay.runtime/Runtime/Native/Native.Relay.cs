// relay_*: start, tick, inspect and stop an embedded relay. Handles are raw IntPtr here;
// RelaySafeHandle owns them in the friendly API.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    public static partial class Native
    {
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_config_default(out RelayConfig config);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_start(ref RelayConfig config, out IntPtr relay);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int relay_poll(IntPtr relay, uint timeoutMs);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_stop(IntPtr relay);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern ushort relay_local_port(IntPtr relay);

        /// <summary>Writes min(statsSize, the library's sizeof(RelayStats)) bytes: pass
        /// <see cref="RelayStatsSize"/>. Below <see cref="StatsMinSize"/> is InvalidArgument.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_get_stats(IntPtr relay, out RelayStats stats, UIntPtr statsSize);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_get_channel(IntPtr relay, ref RelayGuid guid, out RelayChannelCounters counters);

        /// <summary>Writes min(eventSize, the library's sizeof(RelayEvent)) bytes: pass
        /// <see cref="RelayEventSize"/>. Below <see cref="EventMinSize"/> is InvalidArgument.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int relay_next_event(IntPtr relay, out RelayEvent ev, UIntPtr eventSize);

        /// <summary>sizeof(RelayStats) as declared here, computed once (no per-call cost).</summary>
        public static readonly UIntPtr RelayStatsSize = (UIntPtr)(uint)Marshal.SizeOf(typeof(RelayStats));

        /// <summary>sizeof(RelayEvent) as declared here, computed once (no per-call cost).</summary>
        public static readonly UIntPtr RelayEventSize = (UIntPtr)(uint)Marshal.SizeOf(typeof(RelayEvent));

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern RelayStatus relay_drain(IntPtr relay);
    }
}
