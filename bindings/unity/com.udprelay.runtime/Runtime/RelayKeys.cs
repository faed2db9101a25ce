// RelayKeys: well-known handshake keys, for RelayOptions.SecretKey and
// RelayClientOptions.SecretKey.
using System.Text;

namespace UdpRelay
{
    /// <summary>Handshake keys with a fixed, published value.</summary>
    public static class RelayKeys
    {
        /// <summary>The key v0.8.2 relays and clients use when none is configured: the 32
        /// ASCII bytes "fL6I8F3egv6ApC15fkJO9U7xKeDD6Xur" (RELAY_V08_DEFAULT_KEY in
        /// udp_relay.h). Public, so it authenticates nothing: it only makes handshakes
        /// acceptable to a v0.8.2 relay run with its defaults. A new array on every read, so
        /// no caller can change another's copy.</summary>
        public static byte[] V08Default
        {
            get { return Encoding.ASCII.GetBytes("fL6I8F3egv6ApC15fkJO9U7xKeDD6Xur"); }
        }
    }
}
