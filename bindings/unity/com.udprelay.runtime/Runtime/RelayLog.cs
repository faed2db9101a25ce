// Routes the library's log records to a managed handler, safely under IL2CPP.
using System;
using AOT;

namespace UdpRelay
{
    /// <summary>The library's log, process-wide. The handler is removed when the scripting
    /// domain unloads (an Editor assembly reload): set it again after a reload.</summary>
    public static class RelayLog
    {
        /// <summary>Receives one record. Runs on the thread whose relay call logged (the
        /// game thread when you Poll from Update); must not call back into Relay methods.</summary>
        public delegate void Handler(RelayLogLevel level, string message);

        private static readonly object s_lock = new object();
        private static volatile Handler s_handler;

        // The one delegate native code ever sees: a static method, kept alive by this static
        // field for the life of the process, so the GC can never collect it under the library.
        private static readonly Native.LogCallback s_callback = OnNativeLog;

        /// <summary>Sends records at <paramref name="maxLevel"/> and more severe to
        /// <paramref name="handler"/>; null (or RelayLogLevel.Off) turns logging off.</summary>
        public static void SetHandler(Handler handler, RelayLogLevel maxLevel)
        {
            RelayLibrary.EnsureLoaded();
            lock (s_lock)
            {
                bool off = handler == null || maxLevel == RelayLogLevel.Off;
                RelayStatus status = off
                    ? Native.relay_set_log_callback(null, IntPtr.Zero, (uint)RelayLogLevel.Off)
                    : Native.relay_set_log_callback(s_callback, IntPtr.Zero, (uint)maxLevel);
                RelayException.Check(status);
                s_handler = off ? null : handler;
                if (!off) ClearOnUnload();
            }
        }

        private static bool s_clearOnUnload;

        // The native callback points into this scripting domain. An Editor assembly reload
        // (or any AppDomain unload) throws the domain away while the native library stays
        // loaded, and a record logged after that would call into unloaded code, which crashes
        // the Editor. So the callback is taken back from the library first.
        private static void ClearOnUnload()
        {
            if (s_clearOnUnload) return;
            s_clearOnUnload = true;
            AppDomain.CurrentDomain.DomainUnload += (sender, args) => ClearNativeCallback();
#if UNITY_EDITOR
            UnityEditor.AssemblyReloadEvents.beforeAssemblyReload += ClearNativeCallback;
#endif
        }

        private static void ClearNativeCallback()
        {
            lock (s_lock)
            {
                s_handler = null;
                try
                {
                    Native.relay_set_log_callback(null, IntPtr.Zero, (uint)RelayLogLevel.Off);
                }
                catch (Exception)
                {
                    // Nothing to do about it while the domain goes away.
                }
            }
        }

        [MonoPInvokeCallback(typeof(Native.LogCallback))]
        private static void OnNativeLog(IntPtr userData, uint level, IntPtr message)
        {
            Handler handler = s_handler;
            if (handler == null) return;
            try
            {
                handler((RelayLogLevel)level, Utf8.FromNative(message));
            }
            catch (Exception)
            {
                // An exception must not unwind into native code; a failing log handler is
                // not worth crashing the game for.
            }
        }
    }
}
