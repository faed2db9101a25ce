// RelayGuid: the 128-bit channel GUID as the C API passes it, and its conversions.
using System;

namespace UdpRelay
{
    /// <summary>
    /// A channel GUID: the 128-bit value <c>Hi &lt;&lt; 64 | Lo</c>, sent on the wire as 16
    /// big-endian bytes, written as text in the usual 8-4-4-4-12 form
    /// (<c>hhhhhhhh-hhhh-hhhh-llll-llllllllllll</c>).
    /// </summary>
    /// <remarks>
    /// System.Guid's text form is the same, but its byte layout (ToByteArray, the byte[]
    /// constructor) is mixed-endian: the first three groups are little-endian. The
    /// conversions below go through the group values, never through raw Guid bytes, so a
    /// Guid and its RelayGuid always print the same text.
    /// </remarks>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    public struct RelayGuid : IEquatable<RelayGuid>
    {
        /// <summary>Most significant 64 bits (the first 16 hex digits).</summary>
        public ulong Hi;
        /// <summary>Least significant 64 bits (the last 16 hex digits).</summary>
        public ulong Lo;

        public RelayGuid(ulong hi, ulong lo)
        {
            Hi = hi;
            Lo = lo;
        }

        /// <summary>The zero GUID is never a valid channel.</summary>
        public bool IsZero { get { return Hi == 0 && Lo == 0; } }

        /// <summary>The same GUID as a System.Guid (equal text forms). Does not allocate.</summary>
        public Guid ToGuid()
        {
            return new Guid(
                (uint)(Hi >> 32), (ushort)(Hi >> 16), (ushort)Hi,
                (byte)(Lo >> 56), (byte)(Lo >> 48), (byte)(Lo >> 40), (byte)(Lo >> 32),
                (byte)(Lo >> 24), (byte)(Lo >> 16), (byte)(Lo >> 8), (byte)Lo);
        }

        /// <summary>The same GUID as a RelayGuid (equal text forms).</summary>
        public static RelayGuid FromGuid(Guid guid)
        {
            // ToByteArray: Data1 (4 bytes), Data2, Data3 (2 bytes each) little-endian, then
            // the last 8 bytes in text order.
            byte[] b = guid.ToByteArray();
            ulong hi = (ulong)b[3] << 56 | (ulong)b[2] << 48 | (ulong)b[1] << 40 | (ulong)b[0] << 32
                | (ulong)b[5] << 24 | (ulong)b[4] << 16 | (ulong)b[7] << 8 | b[6];
            return new RelayGuid(hi, ReadUInt64BigEndian(b, 8));
        }

        /// <summary>Parses the 8-4-4-4-12 hex form, e.g.
        /// "01234567-89ab-cdef-fedc-ba9876543210" (either case, optionally in braces), with
        /// relay_guid_parse, so it accepts exactly what the C API and the other bindings
        /// accept. Throws FormatException with the library's explanation (its
        /// InnerException is the RelayException).</summary>
        public static RelayGuid Parse(string text)
        {
            RelayGuid guid;
            RelayException error = TryParseCore(text, out guid);
            if (error != null) throw new FormatException(error.NativeMessage, error);
            return guid;
        }

        /// <summary>Like <see cref="Parse"/>, but returns false instead of throwing.</summary>
        public static bool TryParse(string text, out RelayGuid guid)
        {
            return TryParseCore(text, out guid) == null;
        }

        private static unsafe RelayException TryParseCore(string text, out RelayGuid guid)
        {
            if (text == null) throw new ArgumentNullException("text");
            RelayLibrary.EnsureLoaded();
            guid = default(RelayGuid);
            // The C API reads up to the first NUL; an embedded one would hide trailing junk.
            if (text.IndexOf('\0') >= 0)
                return new RelayException(RelayStatus.InvalidArgument, "GUID text contains a NUL character");
            byte[] bytes = Utf8.ToNullTerminated(text);
            RelayStatus status;
            fixed (byte* p = bytes)
            {
                status = Native.relay_guid_parse(p, out guid);
            }
            return status == RelayStatus.Ok ? null : RelayException.FromLastError(status);
        }

        /// <summary>A new random GUID from the operating system's random source (relay_guid_new);
        /// never zero.</summary>
        public static RelayGuid NewRandom()
        {
            RelayLibrary.EnsureLoaded();
            RelayGuid guid;
            RelayException.Check(Native.relay_guid_new(out guid));
            return guid;
        }

        /// <summary>Writes the 16 wire bytes (big-endian) at <paramref name="offset"/>.</summary>
        public void WriteBigEndian(byte[] destination, int offset)
        {
            CheckRange(destination, offset, 16);
            WriteUInt64BigEndian(destination, offset, Hi);
            WriteUInt64BigEndian(destination, offset + 8, Lo);
        }

        /// <summary>Reads 16 wire bytes (big-endian) at <paramref name="offset"/>.</summary>
        public static RelayGuid ReadBigEndian(byte[] source, int offset)
        {
            CheckRange(source, offset, 16);
            return new RelayGuid(ReadUInt64BigEndian(source, offset), ReadUInt64BigEndian(source, offset + 8));
        }

#if UDP_RELAY_SPAN || UNITY_2021_2_OR_NEWER
        /// <summary>Writes the 16 wire bytes (big-endian) to the start of <paramref name="destination"/>.</summary>
        public void WriteBigEndian(Span<byte> destination)
        {
            if (destination.Length < 16) throw new ArgumentException("needs 16 bytes", "destination");
            for (int i = 0; i < 8; i++)
            {
                destination[i] = (byte)(Hi >> (56 - 8 * i));
                destination[8 + i] = (byte)(Lo >> (56 - 8 * i));
            }
        }

        /// <summary>Reads 16 wire bytes (big-endian) from the start of <paramref name="source"/>.</summary>
        public static RelayGuid ReadBigEndian(ReadOnlySpan<byte> source)
        {
            if (source.Length < 16) throw new ArgumentException("needs 16 bytes", "source");
            ulong hi = 0, lo = 0;
            for (int i = 0; i < 8; i++)
            {
                hi = hi << 8 | source[i];
                lo = lo << 8 | source[8 + i];
            }
            return new RelayGuid(hi, lo);
        }
#endif

        /// <summary>The 8-4-4-4-12 text form, lowercase (relay_guid_format).</summary>
        public override unsafe string ToString()
        {
            RelayLibrary.EnsureLoaded();
            byte* text = stackalloc byte[Native.GuidStringSize];
            RelayGuid copy = this;
            int n = Native.relay_guid_format(ref copy, text, (UIntPtr)(uint)Native.GuidStringSize);
            if (n < 0) throw RelayException.FromLastError((RelayStatus)n);
            return System.Text.Encoding.ASCII.GetString(text, n);
        }

        public bool Equals(RelayGuid other)
        {
            return Hi == other.Hi && Lo == other.Lo;
        }

        public override bool Equals(object obj)
        {
            return obj is RelayGuid && Equals((RelayGuid)obj);
        }

        public override int GetHashCode()
        {
            return (Hi ^ Lo).GetHashCode();
        }

        public static bool operator ==(RelayGuid a, RelayGuid b)
        {
            return a.Equals(b);
        }

        public static bool operator !=(RelayGuid a, RelayGuid b)
        {
            return !a.Equals(b);
        }

        private static void CheckRange(byte[] buffer, int offset, int count)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            if (offset < 0 || offset > buffer.Length - count)
                throw new ArgumentOutOfRangeException("offset", "needs " + count + " bytes at offset " + offset + " of a " + buffer.Length + "-byte buffer");
        }

        private static ulong ReadUInt64BigEndian(byte[] b, int offset)
        {
            ulong v = 0;
            for (int i = 0; i < 8; i++) v = v << 8 | b[offset + i];
            return v;
        }

        private static void WriteUInt64BigEndian(byte[] b, int offset, ulong v)
        {
            for (int i = 0; i < 8; i++) b[offset + i] = (byte)(v >> (56 - 8 * i));
        }
    }
}
