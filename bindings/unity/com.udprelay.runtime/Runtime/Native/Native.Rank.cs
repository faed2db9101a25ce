// relay_rank: which relay of a fleet a GUID goes to (rendezvous hashing weighted by
// capacity). RelayRank wraps it.
using System;
using System.Runtime.InteropServices;

namespace UdpRelay
{
    public static partial class Native
    {
        /// <summary>The number of relay ids written to output (the first outputLen of the
        /// ranking), or a negative RelayStatus. ABI 5.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe int relay_rank(ref RelayGuid guid, RelayRankEntry* relays, UIntPtr n,
            uint* output, UIntPtr outputLen);
    }
}
