// Fleet tests of the C# bindings: relay-bound (v2) seat tokens against the generated vectors
// (UDP_RELAY_TOKEN_VECTORS, tests/vectors/tokens-v2.json), a relay with a relay id and a key
// rotation, and RelayRank against the ranking vectors (UDP_RELAY_RANK_VECTORS,
// tests/vectors/rank-v1.txt).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;

namespace UdpRelay.Tests
{
    internal static partial class ClientTests
    {
        private static void RegisterFleet(TestRunner runner)
        {
            runner.Add("RelayToken.MintForRelay agrees with the v2 token vectors", V2TokensMatchVectors);
            runner.Add("a fleet relay refuses another relay's tokens and takes its previous key's", FleetRelayBindsTokens);
            runner.Add("RelayRank agrees with the ranking vectors", RankMatchesVectors);
        }

        private static string VectorsFile(string variable)
        {
            string path = Environment.GetEnvironmentVariable(variable);
            Assert.True(!string.IsNullOrEmpty(path), variable + " is set");
            return System.IO.File.ReadAllText(path);
        }

        /// <summary>The flat JSON objects (no object inside) that have <paramref name="field"/>.</summary>
        private static List<string> FlatObjectsWith(string json, string field)
        {
            List<string> found = new List<string>();
            foreach (string part in json.Split('{'))
            {
                int end = part.IndexOf('}');
                string obj = end < 0 ? part : part.Substring(0, end);
                if (obj.IndexOf("\"" + field + "\"", StringComparison.Ordinal) >= 0) found.Add(obj);
            }
            return found;
        }

        private static string ToHex(byte[] bytes, int offset, int count)
        {
            return BitConverter.ToString(bytes, offset, count).Replace("-", "").ToLowerInvariant();
        }

        private static void V2TokensMatchVectors()
        {
            string json = VectorsFile("UDP_RELAY_TOKEN_VECTORS");
            Dictionary<uint, byte[]> keys = new Dictionary<uint, byte[]>();
            foreach (string k in FlatObjectsWith(json, "key_hex"))
            {
                if (k.IndexOf("\"key_id\"", StringComparison.Ordinal) < 0) continue;
                keys[uint.Parse(RawField(k, "key_id"))] = FromHex(StringField(k, "key_hex"));
            }
            Assert.Equal(3, keys.Count, "keys in the vectors");
            int tokens = 0;
            foreach (string t in FlatObjectsWith(json, "token_hex"))
            {
                string name = StringField(t, "name");
                uint keyId = uint.Parse(RawField(t, "key_id"));
                uint relayId = uint.Parse(RawField(t, "relay_id"));
                RelayGuid guid = RelayGuid.Parse(StringField(t, "guid_text"));
                RelayTokenRole role = (RelayTokenRole)uint.Parse(RawField(t, "role"));
                ulong expiry = ulong.Parse(RawField(t, "expiry_unix_secs"));
                byte[] token = RelayToken.MintForRelay(keys[keyId], keyId, relayId, guid, role, expiry);
                Assert.Equal(RelayToken.V2Length, token.Length, name + ": token length");
                Assert.Equal(StringField(t, "token_hex"), ToHex(token, 0, token.Length), name + ": token");
                byte[] buffer = new byte[Native.MaxHandshakeLength];
                int n = RelayToken.WriteHandshake(token, ulong.Parse(RawField(t, "handshake_sequence")), buffer, 0, buffer.Length);
                Assert.Equal(Native.TokenV2HandshakeLength, n, name + ": handshake length");
                Assert.Equal(StringField(t, "handshake_hex"), ToHex(buffer, 0, n), name + ": handshake");
                tokens++;
            }
            Assert.Equal(5, tokens, "tokens in the vectors");

            byte[] secret = keys[12];
            RelayGuid g = RelayGuid.NewRandom();
            RelayException e = Assert.Throws<RelayException>(() => RelayToken.MintForRelay(secret, 1, 0, g, RelayTokenRole.A, 1), "relay id 0");
            Assert.Equal(RelayStatus.InvalidArgument, e.Status, "status of relay id 0");
            Assert.Contains(e.NativeMessage, "relay_id is 0", "native message names the relay id");
            byte[] small = new byte[RelayToken.Length];
            e = Assert.Throws<RelayException>(() => RelayToken.MintForRelay(secret, 1, 2, g, RelayTokenRole.A, 1, small, 0, small.Length), "60 bytes");
            Assert.Equal(RelayStatus.BufferTooSmall, e.Status, "MintForRelay status of a v1-sized buffer");
        }

        private static readonly byte[] FleetKey = Encoding.ASCII.GetBytes("the fleet's current key, 32 byte");
        private static readonly byte[] FleetPreviousKey = Encoding.ASCII.GetBytes("the fleet's previous key, rotated");

        private static RelayOptions FleetRelay(uint relayId)
        {
            RelayOptions options = LoopbackRelay();
            options.SecretKey = FleetKey;
            options.KeyId = 2;
            options.PreviousSecretKey = FleetPreviousKey;
            options.PreviousKeyId = 1;
            options.RelayId = relayId;
            options.RequireTokens = true;
            options.RequireTokenV2 = true;
            return options;
        }

        private static void FleetRelayBindsTokens()
        {
            RelayOptions defaults = new RelayOptions();
            Assert.Equal(0u, defaults.RelayId, "no relay id by default");
            Assert.True(!defaults.RequireTokenV2 && defaults.PreviousSecretKey == null, "no rotation by default");
            RelayGuid guid = RelayGuid.NewRandom();
            ulong expiry = UnixNow() + 600;
            using (Relay relay = Relay.Start(FleetRelay(7)))
            {
                // Tokens for relay 8, shown to relay 7: no answer, so both give up.
                RelayClientOptions wrongA = TokenOptions(relay.Port,
                    RelayToken.MintForRelay(FleetKey, 2, 8, guid, RelayTokenRole.A, expiry));
                RelayClientOptions wrongB = TokenOptions(relay.Port,
                    RelayToken.MintForRelay(FleetKey, 2, 8, guid, RelayTokenRole.B, expiry));
                wrongA.HandshakeTimeoutMs = wrongB.HandshakeTimeoutMs = 400;
                using (RelayClient a = RelayClient.Connect(wrongA))
                using (RelayClient b = RelayClient.Connect(wrongB))
                {
                    PumpUntil(relay, () => a.State == RelayClientState.TimedOut && b.State == RelayClientState.TimedOut,
                        "both clients with another relay's tokens time out", a, b);
                }
                RelayStats stats = relay.Stats;
                Assert.True(stats.HandshakesWrongRelay >= 2, "wrong-relay handshakes counted: " + stats.HandshakesWrongRelay);
                Assert.Equal(stats.HandshakesWrongRelay, stats.HandshakesRejected, "every rejection was a wrong relay");
                Assert.Equal(0UL, stats.ChannelsAllocatedTotal + stats.HandshakesChallenged, "nothing opened or answered");

                // Relay 7's own tokens, seat B minted under the previous key: a channel.
                using (RelayClient a = RelayClient.Connect(TokenOptions(relay.Port,
                    RelayToken.MintForRelay(FleetKey, 2, 7, guid, RelayTokenRole.A, expiry))))
                using (RelayClient b = RelayClient.Connect(TokenOptions(relay.Port,
                    RelayToken.MintForRelay(FleetPreviousKey, 1, 7, guid, RelayTokenRole.B, expiry))))
                {
                    Establish(relay, a, b);
                    ExchangeDatagrams(relay, a, b, 50);
                }
                Assert.Equal(1UL, relay.Stats.ChannelsAllocatedTotal, "one channel");
            }
        }

        private static void RankMatchesVectors()
        {
            string text = VectorsFile("UDP_RELAY_RANK_VECTORS");
            int checkedLines = 0;
            uint[] first = new uint[1];
            foreach (string line in text.Split('\n'))
            {
                if (!line.StartsWith("rank ", StringComparison.Ordinal)) continue;
                string[] fields = line.Trim().Split(' ');
                RelayGuid guid = RelayGuid.Parse(fields[1]);
                string[] pairs = fields[2].Split(',');
                RelayRankEntry[] relays = new RelayRankEntry[pairs.Length];
                for (int i = 0; i < pairs.Length; i++)
                {
                    string[] idWeight = pairs[i].Split(':');
                    relays[i] = new RelayRankEntry(uint.Parse(idWeight[0]), uint.Parse(idWeight[1]));
                }
                uint[] order = RelayRank.Rank(guid, relays);
                string[] got = new string[order.Length];
                for (int i = 0; i < order.Length; i++) got[i] = order[i].ToString();
                Assert.Equal(fields[3], string.Join(",", got), line);
                Array.Reverse(relays);
                Assert.Equal(1, RelayRank.Rank(guid, relays, first), "first relay only: " + line);
                Assert.Equal(order[0], first[0], "the same first relay, listed in reverse: " + line);
                checkedLines++;
            }
            Assert.Equal(42, checkedLines, "rankings in the vectors");
            RelayRankEntry[] twice = { new RelayRankEntry(3, 1), new RelayRankEntry(3, 2) };
            RelayException e = Assert.Throws<RelayException>(() => RelayRank.Rank(RelayGuid.NewRandom(), twice), "a relay twice");
            Assert.Equal(RelayStatus.InvalidArgument, e.Status, "status of a relay twice");
            Assert.Contains(e.NativeMessage, "relay id 3 appears twice", "native message names the relay");
            Assert.Equal(0, RelayRank.Rank(RelayGuid.NewRandom(), new RelayRankEntry[0]).Length, "no relays");
        }
    }
}
