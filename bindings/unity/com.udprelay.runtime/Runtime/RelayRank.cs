// Which relay of a fleet a channel goes to: rendezvous hashing weighted by capacity, the
// same ranking as the native relay_rank (and every other matchmaker replica).
using System;

namespace UdpRelay
{
    /// <summary>
    /// Ranks a fleet's relays for a channel GUID, best first. Every matchmaker that ranks the
    /// same relays (listed in any order) gets the same ranking, so both peers of a channel go
    /// to the same relay with no shared state; a relay leaving moves only the channels that
    /// ranked it first; each relay is first for a share of the GUIDs proportional to its
    /// weight (its capacity). Mint both peers' tokens for the first relay with
    /// <see cref="RelayToken.MintForRelay(byte[], uint, uint, RelayGuid, RelayTokenRole, ulong)"/>.
    /// </summary>
    public static class RelayRank
    {
        /// <summary>Every relay's id, best first for <paramref name="guid"/>. Throws
        /// RelayException (InvalidArgument) for a relay id of 0 or twice.</summary>
        public static uint[] Rank(RelayGuid guid, RelayRankEntry[] relays)
        {
            if (relays == null) throw new ArgumentNullException("relays");
            uint[] order = new uint[relays.Length];
            Rank(guid, relays, order);
            return order;
        }

        /// <summary>Writes the first <c>order.Length</c> relay ids of the ranking into
        /// <paramref name="order"/> and returns how many it wrote (all of them when it is long
        /// enough). Does not allocate.</summary>
        public static unsafe int Rank(RelayGuid guid, RelayRankEntry[] relays, uint[] order)
        {
            if (relays == null) throw new ArgumentNullException("relays");
            if (order == null) throw new ArgumentNullException("order");
            RelayLibrary.EnsureLoaded();
            int n;
            fixed (RelayRankEntry* r = relays)
            fixed (uint* o = order)
            {
                uint scratch;
                n = Native.relay_rank(ref guid, r, (UIntPtr)(uint)relays.Length, o == null ? &scratch : o,
                    (UIntPtr)(uint)order.Length);
            }
            if (n < 0) throw RelayException.FromLastError((RelayStatus)n);
            return n;
        }
    }
}
