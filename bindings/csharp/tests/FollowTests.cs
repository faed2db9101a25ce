// Picking and following a relay from C#: RelayMeasure times relays (one accepting, one
// draining, one stopped, one name that does not resolve); two RelayClients whose relay was
// stopped notice it and Rejoin another relay with new tickets on the same sockets; bad
// rejoins throw and change nothing; a RelayHandshake rejoins too.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;
using System.Threading;

namespace UdpRelay.Tests
{
    internal static class FollowTests
    {
        public static void Register(TestRunner runner)
        {
            runner.Add("RelayMeasure reports accepting, draining, unreachable and unresolved relays in order", MeasureReportsEachRelay);
            runner.Add("clients whose relay stopped Rejoin another with new tickets on the same sockets", ClientsRejoinAnotherRelay);
            runner.Add("a RelayHandshake rejoins with a new ticket", HandshakeRejoins);
        }

        private static readonly byte[] Secret1 = Encoding.ASCII.GetBytes("the first region's relay secret, for its tickets");
        private static readonly byte[] Secret2 = Encoding.ASCII.GetBytes("the second region's relay secret, for its tickets");

        private static void MeasureReportsEachRelay()
        {
            string gone;
            using (Relay stopped = Relay.Start(ClientTests.LoopbackRelay()))
            {
                gone = "127.0.0.1:" + stopped.Port;
            }
            using (Relay accepting = Relay.Start(ClientTests.LoopbackRelay()))
            using (Relay draining = Relay.Start(ClientTests.LoopbackRelay()))
            {
                draining.Drain();
                // Measure blocks: the relays tick on a thread of their own meanwhile.
                bool stop = false;
                Thread ticker = new Thread(() =>
                {
                    while (!Volatile.Read(ref stop))
                    {
                        accepting.Poll(1);
                        draining.Poll(1);
                    }
                });
                ticker.Start();
                RelayMeasurement[] got;
                Stopwatch clock = Stopwatch.StartNew();
                try
                {
                    got = RelayMeasure.Measure(new[] { "127.0.0.1:" + accepting.Port, "127.0.0.1:" + draining.Port, gone, "not an address" }, 2, 500);
                }
                finally
                {
                    Volatile.Write(ref stop, true);
                    ticker.Join();
                }
                Assert.True(clock.ElapsedMilliseconds < 3000, "returned within the timeout and a margin: " + clock.ElapsedMilliseconds + " ms");
                Assert.Equal(4, got.Length, "one result per relay");
                Assert.Equal(RelayStatus.Ok, got[0].Status, "accepting relay answered");
                Assert.Equal(RelayProbeState.Accepting, got[0].State, "accepting relay's state");
                Assert.True(got[0].RttUs > 0 && got[0].Replies == 2 && got[0].ProbesSent == 2, "round trip of 2 probes: " + got[0].RttUs + " us");
                Assert.Equal(accepting.Port, got[0].Address.Port, "resolved address");
                Assert.Equal(RelayStatus.Ok, got[1].Status, "draining relay answered");
                Assert.Equal(RelayProbeState.Draining, got[1].State, "draining relay's state");
                Assert.Equal(RelayStatus.TimedOut, got[2].Status, "stopped relay is unreachable");
                Assert.Equal(0u, got[2].Replies, "no replies from the stopped relay");
                Assert.Equal(RelayStatus.InvalidAddress, got[3].Status, "unresolved name");
                Assert.Equal(0, RelayMeasure.Nearest(got), "nearest accepting relay");
            }
            Assert.Equal(0, RelayMeasure.Measure(new string[0]).Length, "nothing to measure");
            RelayException e = Assert.Throws<RelayException>(() => RelayMeasure.Measure(new[] { "127.0.0.1:9" }, 0, 100), "0 attempts");
            Assert.Equal(RelayStatus.InvalidArgument, e.Status, "status of 0 attempts");
            Assert.Contains(e.NativeMessage, "attempts is 0", "native message names the attempts");
            Assert.Throws<ArgumentNullException>(() => RelayMeasure.Measure(null), "null list");
            Assert.Throws<ArgumentNullException>(() => RelayMeasure.Measure(new string[] { null }), "null entry");
            RelayMeasurement unanswered = new RelayMeasurement();
            unanswered.Status = RelayStatus.TimedOut;
            Assert.Equal(-1, RelayMeasure.Nearest(new[] { unanswered }), "no answer, no pick");
        }

        private static RelayOptions TokenRelay(byte[] secret)
        {
            RelayOptions options = ClientTests.LoopbackRelay();
            options.SecretKey = secret;
            options.RequireTokens = true;
            return options;
        }

        private static RelayClientOptions Watchful(ushort port, byte[] token)
        {
            RelayClientOptions options = ClientTests.ClientOptions(port, default(RelayGuid));
            options.Token = token;
            options.KeepaliveIntervalMs = 100;
            options.PeerTimeoutMs = 400;
            return options;
        }

        private static void ClientsRejoinAnotherRelay()
        {
            RelayGuid first = RelayGuid.NewRandom(), second = RelayGuid.NewRandom();
            ulong expiry = ClientTests.UnixNow() + 600;
            using (Relay relay1 = Relay.Start(TokenRelay(Secret1)))
            using (Relay relay2 = Relay.Start(TokenRelay(Secret2)))
            using (RelayClient a = RelayClient.Connect(Watchful(relay1.Port, RelayToken.Mint(Secret1, first, RelayTokenRole.A, expiry))))
            using (RelayClient b = RelayClient.Connect(Watchful(relay1.Port, RelayToken.Mint(Secret1, first, RelayTokenRole.B, expiry))))
            {
                ClientTests.Establish(relay1, a, b);
                ClientTests.ExchangeDatagrams(relay1, a, b, 50);
                List<RelayClientState> changes = new List<RelayClientState>();
                a.StateChanged += (sender, state) => changes.Add(state);
                ushort portA = a.LocalPort, portB = b.LocalPort;

                relay1.Dispose(); // killed: silence from now on
                Stopwatch clock = Stopwatch.StartNew();
                while (a.State != RelayClientState.Lost || b.State != RelayClientState.Lost)
                {
                    if (clock.ElapsedMilliseconds > 3000) throw new TestFailure("not lost within 3 s of the stop");
                    Thread.Sleep(2);
                    a.Poll(0);
                    b.Poll(0);
                }
                Assert.Equal(RelayStatus.PeerLost, a.Failure.Status, "Failure says the relay was lost");
                Assert.Contains(a.Failure.NativeMessage, "relay_client_rejoin", "the message points at rejoining");

                // Bad rejoins throw and change nothing.
                string address2 = "127.0.0.1:" + relay2.Port;
                Assert.Throws<ArgumentNullException>(() => a.Rejoin(null, second), "null address");
                RelayException e = Assert.Throws<RelayException>(() => a.Rejoin(address2, default(RelayGuid)), "zero GUID, no token");
                Assert.Equal(RelayStatus.InvalidArgument, e.Status, "status of a zero GUID");
                Assert.Contains(e.NativeMessage, "GUID is zero", "native message");
                e = Assert.Throws<RelayException>(() => a.Rejoin("[::1]:6060", second), "IPv6 from an IPv4 socket");
                Assert.Equal(RelayStatus.InvalidAddress, e.Status, "status of an IPv6 relay");
                e = Assert.Throws<RelayException>(() => a.Rejoin(address2, second, new byte[59]), "short token");
                Assert.Contains(e.NativeMessage, "token_len is 59", "native message gives the length");
                Assert.Equal(RelayClientState.Lost, a.State, "still lost");

                // The matchmaker's new tickets, on the second relay.
                a.Rejoin(address2, default(RelayGuid), RelayToken.Mint(Secret2, second, RelayTokenRole.A, expiry));
                b.Rejoin(address2, second, RelayToken.Mint(Secret2, second, RelayTokenRole.B, expiry));
                Assert.Equal(RelayClientState.Handshaking, a.State, "handshaking again");
                Assert.True(a.Failure == null, "Failure cleared");
                Assert.Equal(portA, a.LocalPort, "a's socket kept");
                Assert.Equal(portB, b.LocalPort, "b's socket kept");
                e = Assert.Throws<RelayException>(() => a.Send(new byte[4], 0, 4), "Send before the new channel is up");
                Assert.Equal(RelayStatus.NotEstablished, e.Status, "today's rule while handshaking");
                ClientTests.Establish(relay2, a, b);
                ClientTests.ExchangeDatagrams(relay2, a, b, 50);
                Assert.Equal(RelayClientState.Lost, changes[0], "StateChanged: Lost first");
                Assert.Equal(RelayClientState.Established, changes[changes.Count - 1], "StateChanged: Established last");
                Assert.Equal(1UL, relay2.Stats.ChannelsEstablished, "one channel on the second relay");
            }
        }

        private static void HandshakeRejoins()
        {
            RelayClientOptions options = new RelayClientOptions();
            options.Guid = RelayGuid.NewRandom();
            RelayGuid next = RelayGuid.NewRandom();
            using (RelayHandshake handshake = RelayHandshake.Create(options))
            {
                byte[] buffer = new byte[Native.MaxHandshakeLength];
                int n = handshake.Poll(buffer, 0, buffer.Length);
                Assert.Equal(RelayDatagramKind.Handshake, handshake.Receive(buffer, 0, n), "its own handshake, as the peer's");
                Assert.Equal(RelayClientState.Established, handshake.State, "established");
                RelayException e = Assert.Throws<RelayException>(() => handshake.Rejoin(default(RelayGuid)), "zero GUID");
                Assert.Equal(RelayStatus.InvalidArgument, e.Status, "status of a zero GUID");
                Assert.Equal(RelayClientState.Established, handshake.State, "unchanged");
                handshake.Rejoin(next);
                Assert.Equal(RelayClientState.Handshaking, handshake.State, "handshaking again");
                n = handshake.Poll(buffer, 0, buffer.Length);
                Assert.Equal(Native.HandshakeLength, n, "first handshake due at once");
                byte[] expected = new byte[16];
                next.WriteBigEndian(expected, 0);
                for (int i = 0; i < 16; i++) Assert.Equal(expected[i], buffer[8 + i], "GUID byte " + i);
            }
        }
    }
}
