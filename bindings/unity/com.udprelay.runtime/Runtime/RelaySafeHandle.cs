// Ownership of a native relay handle: released exactly once with relay_stop.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    /// <summary>Owns a RelayHandle*; closing it (Dispose or finalizer) calls relay_stop.</summary>
    public sealed class RelaySafeHandle : SafeHandle
    {
        public RelaySafeHandle() : base(IntPtr.Zero, true)
        {
        }

        internal RelaySafeHandle(IntPtr relay) : base(IntPtr.Zero, true)
        {
            SetHandle(relay);
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        protected override bool ReleaseHandle()
        {
            // Thread-safe on the native side: calls on one handle are serialised there, so
            // the finalizer thread may stop a relay another thread forgot to dispose.
            return Native.relay_stop(handle) == RelayStatus.Ok;
        }
    }
}
