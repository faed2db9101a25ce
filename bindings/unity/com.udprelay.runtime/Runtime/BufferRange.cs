// Argument checks for the (buffer, offset, count) triples the datagram APIs take, done in
// managed code so a bad range is an ArgumentException, never a native read past the array.
using System;

namespace UdpRelay
{
    internal static class BufferRange
    {
        internal static void Check(byte[] buffer, int offset, int count, string name)
        {
            if (buffer == null) throw new ArgumentNullException(name);
            if (offset < 0 || count < 0 || offset > buffer.Length - count)
                throw new ArgumentOutOfRangeException(name,
                    "offset " + offset + " and count " + count + " do not fit a " + buffer.Length + "-byte buffer");
        }
    }
}
