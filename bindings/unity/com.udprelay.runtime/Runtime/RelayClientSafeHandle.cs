// Ownership of a native client handle: released exactly once with relay_client_close.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    /// <summary>Owns a RelayClient*; closing it (Dispose or finalizer) calls relay_client_close.</summary>
    public sealed class RelayClientSafeHandle : SafeHandle
    {
        public RelayClientSafeHandle() : base(IntPtr.Zero, true)
        {
        }

        internal RelayClientSafeHandle(IntPtr client) : base(IntPtr.Zero, true)
        {
            SetHandle(client);
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        protected override bool ReleaseHandle()
        {
            // Calls on one handle are serialised natively, so the finalizer thread may close a
            // client another thread forgot to dispose.
            return Native.relay_client_close(handle) == RelayStatus.Ok;
        }
    }
}
