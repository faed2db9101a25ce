// relay_measure: timing relays to pick one. Strings are passed as pointers to NUL-terminated
// UTF-8 bytes that RelayMeasure pins for the call.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    public static partial class Native
    {
        /// <summary>RELAY_MAX_MEASURE_ATTEMPTS: most probes per relay.</summary>
        public const uint MaxMeasureAttempts = 16;

        /// <summary>RELAY_MAX_MEASURE_TIMEOUT_MS: longest a measurement may last.</summary>
        public const uint MaxMeasureTimeoutMs = 60000;

        /// <summary>RELAY_MAX_MEASURED_RELAYS: most relays one measurement takes.</summary>
        public const int MaxMeasuredRelays = 1024;

        /// <summary>The number of relays that answered (&gt;= 0) or a negative RelayStatus.
        /// Blocks for up to timeoutMs.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe int relay_measure(IntPtr* relays, UIntPtr relaysLen, uint attempts, uint timeoutMs, RelayMeasurement* measurements, UIntPtr outLen);
    }
}
