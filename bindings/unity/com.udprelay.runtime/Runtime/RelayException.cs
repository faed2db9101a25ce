// The error of a failed relay_* call: its status and the library's own explanation.
using System;

namespace UdpRelay
{
    /// <summary>A relay_* call failed. <see cref="NativeMessage"/> is relay_last_error().</summary>
    public sealed class RelayException : Exception
    {
        public RelayStatus Status { get; private set; }

        /// <summary>What the library said went wrong (relay_last_error at the time).</summary>
        public string NativeMessage { get; private set; }

        /// <summary>An error raised by the bindings themselves (e.g. a mismatched library):
        /// builds its message without calling into the native library.</summary>
        public RelayException(RelayStatus status, string message)
            : this(status, message, message + " (" + status + ")")
        {
        }

        private RelayException(RelayStatus status, string nativeMessage, string message)
            : base(message)
        {
            Status = status;
            NativeMessage = nativeMessage;
        }

        /// <summary>relay_status_str: a short name such as "address in use".</summary>
        public static string StatusName(RelayStatus status)
        {
            return Utf8.FromNative(Native.relay_status_str((int)status));
        }

        /// <summary>Builds the exception from the calling thread's relay_last_error(). Call it
        /// right after the failed call, on the same thread, before any other relay_* call.</summary>
        internal static RelayException FromLastError(RelayStatus status)
        {
            string nativeMessage = Utf8.FromNative(Native.relay_last_error());
            return new RelayException(status, nativeMessage, nativeMessage + " (" + StatusName(status) + ")");
        }

        internal static void Check(RelayStatus status)
        {
            if (status != RelayStatus.Ok) throw FromLastError(status);
        }
    }
}
