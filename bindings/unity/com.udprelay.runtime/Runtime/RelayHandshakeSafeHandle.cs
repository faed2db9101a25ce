// Ownership of a native handshake state machine: released exactly once with relay_handshake_free.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    /// <summary>Owns a RelayHandshake*; closing it (Dispose or finalizer) calls relay_handshake_free.</summary>
    public sealed class RelayHandshakeSafeHandle : SafeHandle
    {
        public RelayHandshakeSafeHandle() : base(IntPtr.Zero, true)
        {
        }

        internal RelayHandshakeSafeHandle(IntPtr handshake) : base(IntPtr.Zero, true)
        {
            SetHandle(handshake);
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        protected override bool ReleaseHandle()
        {
            return Native.relay_handshake_free(handle) == RelayStatus.Ok;
        }
    }
}
