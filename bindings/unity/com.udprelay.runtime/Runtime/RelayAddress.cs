// RelayAddress: a peer's IP address and port as the C API reports it.
using System;
using System.Net;

namespace UdpRelay
{
    /// <summary>
    /// A peer address. <see cref="Family"/> is 0 (none), 4 or 6; the IP is 4 (IPv4, first 4
    /// bytes) or 16 bytes in network order; <see cref="Port"/> is in host order.
    /// </summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    public unsafe struct RelayAddress
    {
        public ushort Family;
        public ushort Port;
        public uint ScopeId;
        public fixed byte Ip[16];

        /// <summary>Bytes of the IP: 4, 16, or 0 for an empty address.</summary>
        public int IpLength { get { return Family == 4 ? 4 : Family == 6 ? 16 : 0; } }

        /// <summary>Copies the IP bytes (network order) to <paramref name="destination"/>
        /// at <paramref name="offset"/> and returns how many were written.</summary>
        public int CopyIpTo(byte[] destination, int offset)
        {
            int n = IpLength;
            if (destination == null) throw new ArgumentNullException("destination");
            if (offset < 0 || offset > destination.Length - n)
                throw new ArgumentOutOfRangeException("offset", "needs " + n + " bytes at offset " + offset);
            fixed (byte* ip = Ip)
            {
                for (int i = 0; i < n; i++) destination[offset + i] = ip[i];
            }
            return n;
        }

#if UDP_RELAY_SPAN || UNITY_2021_2_OR_NEWER
        /// <summary>Copies the IP bytes (network order) and returns how many were written.</summary>
        public int CopyIpTo(Span<byte> destination)
        {
            int n = IpLength;
            if (destination.Length < n) throw new ArgumentException("needs " + n + " bytes", "destination");
            fixed (byte* ip = Ip)
            {
                for (int i = 0; i < n; i++) destination[i] = ip[i];
            }
            return n;
        }
#endif

        /// <summary>
        /// Writes the text form ("1.2.3.4:5678", "[::1]:5678") as UTF-8 into
        /// <paramref name="buffer"/> without allocating; returns its length, or -1 if the
        /// address is empty or <paramref name="count"/> is too small (64 always suffices).
        /// </summary>
        public int Format(byte[] buffer, int offset, int count)
        {
            if (buffer == null) throw new ArgumentNullException("buffer");
            if (offset < 0 || count < 0 || offset > buffer.Length - count)
                throw new ArgumentOutOfRangeException("offset");
            if (count == 0) return -1;
            RelayAddress copy = this;
            fixed (byte* p = &buffer[offset])
            {
                int n = Native.relay_address_format(ref copy, p, (UIntPtr)(uint)count);
                return n < 0 ? -1 : n;
            }
        }

        /// <summary>The text form, e.g. "127.0.0.1:5000" or "[::1]:5000"; "-" if empty.</summary>
        public override string ToString()
        {
            byte* text = stackalloc byte[64];
            RelayAddress copy = this;
            int n = Native.relay_address_format(ref copy, text, (UIntPtr)64u);
            return n < 0 ? "-" : System.Text.Encoding.UTF8.GetString(text, n);
        }

        /// <summary>As an IPEndPoint (allocates), or null if empty.</summary>
        public IPEndPoint ToIPEndPoint()
        {
            int n = IpLength;
            if (n == 0) return null;
            byte[] bytes = new byte[n];
            CopyIpTo(bytes, 0);
            IPAddress ip = n == 16 ? new IPAddress(bytes, ScopeId) : new IPAddress(bytes);
            return new IPEndPoint(ip, Port);
        }
    }
}
