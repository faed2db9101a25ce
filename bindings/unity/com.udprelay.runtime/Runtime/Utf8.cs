// Strings owned by the native library: read without letting the marshaller free them.
using System;
using System.Text;

namespace UdpRelay
{
    internal static class Utf8
    {
        /// <summary>Copies a NUL-terminated UTF-8 string the library owns.</summary>
        internal static unsafe string FromNative(IntPtr text)
        {
            if (text == IntPtr.Zero) return string.Empty;
            byte* p = (byte*)text;
            int n = 0;
            while (p[n] != 0) n++;
            return n == 0 ? string.Empty : Encoding.UTF8.GetString(p, n);
        }

        /// <summary>UTF-8 bytes of <paramref name="text"/> followed by a NUL.</summary>
        internal static byte[] ToNullTerminated(string text)
        {
            byte[] bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
            Encoding.UTF8.GetBytes(text, 0, text.Length, bytes, 0);
            return bytes;
        }
    }
}
