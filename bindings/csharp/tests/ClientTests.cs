// Tests of the client side of the C# bindings (RelayClient, RelayHandshake, RelayGuid's
// native conversions) against the real native library, on Mono: a C# Relay and clients on
// 127.0.0.1, all ticked from this thread like a game loop.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace UdpRelay.Tests
{
    internal static partial class ClientTests
    {
        public static void Register(TestRunner runner)
        {
            runner.Add("two clients exchange 1000 datagrams each way through a relay", ClientsExchangeDatagrams);
            runner.Add("a client with the wrong key times out with the native message", WrongKeyTimesOut);
            runner.Add("wrong client options throw RelayException with the native message", WrongClientOptionsThrow);
            runner.Add("client and handshake dispose twice is safe", ClientDisposeTwiceIsSafe);
            runner.Add("client and handshake calls after dispose throw ObjectDisposedException", ClientCallsAfterDisposeThrow);
            runner.Add("too small a receive buffer throws and keeps the datagram", TooSmallReceiveBufferKeepsDatagram);
            runner.Add("RelayHandshake over a UdpClient pairs with a RelayClient", HandshakeOverUdpClientPairsWithClient);
            runner.Add("guid parse, format and new round-trip through the native library", GuidNativeRoundTrips);
            runner.Add("guids and handshakes agree with the shared vectors", GuidsAndHandshakesMatchVectors);
            runner.Add("RelayKeys.V08Default is the reference default key of the shared vectors", V08DefaultKeyMatchesItsVector);
            runner.Add("clients with RelayKeys.V08Default pair through a relay keyed with it or unkeyed", V08DefaultKeyClientsPair);
            runner.Add("client send, receive and poll do not allocate", ClientDoesNotAllocate);
            runner.Add("handshake poll, receive and state do not allocate", HandshakeDoesNotAllocate);
            runner.Add("two token holders exchange datagrams through a relay that requires tokens", TokenHoldersExchangeDatagrams);
            runner.Add("RelayToken agrees with the token vectors", TokensMatchVectors);
            runner.Add("a RelayHandshake with a token pairs with a RelayClient with a token", TokenHandshakeOverUdpClient);
            runner.Add("bad tokens throw RelayException with the native message", BadTokensThrow);
            runner.Add("with PeerTimeoutMs, clients whose relay stopped become Lost", PeerTimeoutNoticesAStoppedRelay);
            RegisterFleet(runner);
        }

        internal static RelayOptions LoopbackRelay()
        {
            RelayOptions options = new RelayOptions();
            options.Port = 0;
            options.BindAddress = "127.0.0.1";
            return options;
        }

        /// <summary>Quick retries so the tests do not wait on the defaults' 250 ms.</summary>
        internal static RelayClientOptions ClientOptions(ushort relayPort, RelayGuid guid)
        {
            RelayClientOptions options = new RelayClientOptions();
            options.RelayAddress = "127.0.0.1:" + relayPort;
            options.Guid = guid;
            options.RetryIntervalMs = 20;
            options.RetryBackoffMaxMs = 100;
            options.HandshakeTimeoutMs = 5000;
            return options;
        }

        /// <summary>Ticks the relay and the clients until <paramref name="done"/> holds.</summary>
        internal static void PumpUntil(Relay relay, Func<bool> done, string what, params RelayClient[] clients)
        {
            Stopwatch clock = Stopwatch.StartNew();
            while (!done())
            {
                if (clock.ElapsedMilliseconds > 5000) throw new TestFailure(what + ": not within 5 s");
                relay.Poll(1);
                foreach (RelayClient client in clients) client.Poll(0);
            }
        }

        internal static void Establish(Relay relay, RelayClient a, RelayClient b)
        {
            PumpUntil(relay, () => a.State == RelayClientState.Established && b.State == RelayClientState.Established,
                "both clients established", a, b);
        }

        /// <summary>Datagram <paramref name="seq"/> from <paramref name="sender"/>: 8 to 207
        /// bytes, the sequence number first, then a pattern both ends can recompute.</summary>
        private static int WriteDatagram(byte[] buffer, byte sender, int seq)
        {
            int length = 8 + seq % 200;
            BitConverter.GetBytes(seq).CopyTo(buffer, 0);
            for (int i = 4; i < length; i++) buffer[i] = (byte)(sender + seq + i);
            return length;
        }

        private static void CheckDatagram(byte[] buffer, int length, byte sender, int expectedSeq, string what)
        {
            int seq = BitConverter.ToInt32(buffer, 0);
            Assert.Equal(expectedSeq, seq, what + ": sequence number (in order, none lost)");
            Assert.Equal(8 + seq % 200, length, what + ": length of datagram " + seq);
            for (int i = 4; i < length; i++)
            {
                if (buffer[i] != (byte)(sender + seq + i))
                    throw new TestFailure(what + ": byte " + i + " of datagram " + seq + " differs");
            }
        }

        /// <summary>Sends <paramref name="count"/> datagrams each way between two established
        /// clients and checks every one arrives once, in order and intact. At most 64 are in
        /// flight per direction, so a burst never outgrows the kernel's socket buffers (that
        /// would be the kernel dropping, not the relay).</summary>
        internal static void ExchangeDatagrams(Relay relay, RelayClient a, RelayClient b, int count)
        {
            const int window = 64;
            byte[] tx = new byte[256];
            byte[] rx = new byte[Native.MaxDatagram];
            int sentA = 0, sentB = 0, gotA = 0, gotB = 0;
            Stopwatch clock = Stopwatch.StartNew();
            while (gotA < count || gotB < count)
            {
                if (clock.ElapsedMilliseconds > 20000)
                    throw new TestFailure("A got " + gotA + ", B got " + gotB + " of " + count + " within 20 s");
                while (sentA < count && sentA - gotB < window && a.Send(tx, 0, WriteDatagram(tx, 0xA, sentA))) sentA++;
                while (sentB < count && sentB - gotA < window && b.Send(tx, 0, WriteDatagram(tx, 0xB, sentB))) sentB++;
                relay.Poll(1);
                a.Poll(0);
                b.Poll(0);
                int length;
                while (b.TryReceive(rx, 0, rx.Length, out length)) CheckDatagram(rx, length, 0xA, gotB++, "A -> B");
                while (a.TryReceive(rx, 0, rx.Length, out length)) CheckDatagram(rx, length, 0xB, gotA++, "B -> A");
            }
            Assert.Equal(count, gotB, "datagrams A -> B");
            Assert.Equal(count, gotA, "datagrams B -> A");
        }

        private static void ClientsExchangeDatagrams()
        {
            const int count = 1000;
            RelayGuid guid = RelayGuid.NewRandom();
            using (Relay relay = Relay.Start(LoopbackRelay()))
            using (RelayClient a = RelayClient.Connect(ClientOptions(relay.Port, guid)))
            using (RelayClient b = RelayClient.Connect(ClientOptions(relay.Port, guid)))
            {
                Assert.Equal(RelayClientState.Handshaking, a.State, "state right after Connect");
                Assert.True(a.LocalPort != 0 && a.LocalPort != b.LocalPort, "clients have their own ports");
                Establish(relay, a, b);

                ExchangeDatagrams(relay, a, b, count);

                RelayChannelCounters counters;
                Assert.True(relay.TryGetChannel(guid, out counters), "the channel is open");
                // Handshakes (answers, keep-alives) are relayed too, so at least the game data.
                Assert.True(counters.DatagramsAToB >= count && counters.DatagramsBToA >= count,
                    "relay counted " + counters.DatagramsAToB + " / " + counters.DatagramsBToA);
                Assert.Equal(0UL, counters.Dropped, "datagrams the relay dropped");
                Assert.Equal(0, a.Poll(0), "nothing left queued at A");
                Assert.Equal(0, b.Poll(0), "nothing left queued at B");
            }
        }

        private static void WrongKeyTimesOut()
        {
            byte[] relayKey = Encoding.ASCII.GetBytes("the relay's secret key");
            RelayOptions relayOptions = LoopbackRelay();
            relayOptions.SecretKey = relayKey;
            RelayGuid guid = RelayGuid.NewRandom();
            using (Relay relay = Relay.Start(relayOptions))
            {
                RelayClientOptions options = ClientOptions(relay.Port, guid);
                options.SecretKey = Encoding.ASCII.GetBytes("another key");
                options.HandshakeTimeoutMs = 300;
                Stopwatch clock = Stopwatch.StartNew();
                List<RelayClientState> changes = new List<RelayClientState>();
                using (RelayClient client = RelayClient.Connect(options))
                {
                    client.StateChanged += (sender, state) =>
                    {
                        Assert.True(sender == client, "the event names its client");
                        changes.Add(state);
                    };
                    while (client.State == RelayClientState.Handshaking)
                    {
                        if (clock.ElapsedMilliseconds > 5000) throw new TestFailure("no timeout within 5 s");
                        relay.Poll(1);
                        Assert.True(client.Failure == null, "no failure before the timeout");
                        Assert.Equal(0, client.Poll(5), "nothing to receive");
                    }
                    Assert.True(clock.ElapsedMilliseconds >= 300, "timed out after " + clock.ElapsedMilliseconds + " ms, before the 300 ms timeout");
                    Assert.Equal("TimedOut", string.Join(",", changes), "one StateChanged, to TimedOut");
                    // Polling on is harmless: no exception, no second event.
                    Assert.Equal(0, client.Poll(0), "poll once timed out");
                    Assert.Equal(1, changes.Count, "StateChanged once");
                    RelayException timedOut = client.Failure;
                    Assert.True(timedOut != null, "Failure says why");
                    Assert.Equal(RelayStatus.TimedOut, timedOut.Status, "status");
                    Assert.Contains(timedOut.NativeMessage, "no answer through relay 127.0.0.1:" + relay.Port, "native message names the relay");
                    Assert.Contains(timedOut.NativeMessage, guid.ToString(), "native message names the channel");
                    Assert.Contains(timedOut.NativeMessage, "secret key", "native message suggests the key");
                    Assert.Contains(timedOut.Message, "timed out", "exception message names the status");
                    Assert.Equal(RelayClientState.TimedOut, client.State, "final state");
                    RelayException e2 = Assert.Throws<RelayException>(() => client.Send(new byte[4], 0, 4), "Send after the timeout");
                    Assert.Equal(RelayStatus.TimedOut, e2.Status, "Send status after the timeout");
                    int length;
                    e2 = Assert.Throws<RelayException>(() => client.TryReceive(new byte[4], 0, 4, out length), "TryReceive after the timeout");
                    Assert.Equal(RelayStatus.TimedOut, e2.Status, "TryReceive status after the timeout");
                }
                // The handshakes did reach the relay, which refused them for their HMAC.
                RelayStats stats = relay.Stats;
                Assert.True(stats.HandshakesRejected > 0, "relay rejected the wrongly keyed handshakes");
                Assert.Equal(0UL, stats.ChannelsOpen, "no channel allocated");

                // Control: with the relay's key the same relay pairs two clients.
                RelayGuid keyed = RelayGuid.NewRandom();
                RelayClientOptions right = ClientOptions(relay.Port, keyed);
                right.SecretKey = relayKey;
                using (RelayClient a = RelayClient.Connect(right))
                using (RelayClient b = RelayClient.Connect(right))
                {
                    Establish(relay, a, b);
                }
            }
        }

        private static void PeerTimeoutNoticesAStoppedRelay()
        {
            RelayClientOptions defaults = new RelayClientOptions();
            Assert.Equal(0u, defaults.PeerTimeoutMs, "peer timeout off by default");

            RelayGuid guid = RelayGuid.NewRandom();
            using (Relay relay = Relay.Start(LoopbackRelay()))
            {
                RelayClientOptions options = ClientOptions(relay.Port, guid);
                options.KeepaliveIntervalMs = 100;
                options.PeerTimeoutMs = 100;
                RelayException refused = Assert.Throws<RelayException>(() => RelayClient.Connect(options), "peer timeout not above the keep-alive");
                Assert.Equal(RelayStatus.InvalidArgument, refused.Status, "status of a peer timeout <= keep-alive");
                Assert.Contains(refused.NativeMessage, "must be longer than the keep-alive interval", "native message names the conflict");

                options.PeerTimeoutMs = 400;
                RelayClientOptions control = ClientOptions(relay.Port, RelayGuid.NewRandom());
                control.KeepaliveIntervalMs = 100;
                using (RelayClient a = RelayClient.Connect(options))
                using (RelayClient b = RelayClient.Connect(options))
                using (RelayClient c = RelayClient.Connect(control))
                using (RelayClient d = RelayClient.Connect(control))
                {
                    Establish(relay, a, b);
                    Establish(relay, c, d);
                    // Quiet but healthy for three peer timeouts: keep-alives keep everyone up.
                    Stopwatch clock = Stopwatch.StartNew();
                    while (clock.ElapsedMilliseconds < 1200)
                    {
                        relay.Poll(1);
                        foreach (RelayClient client in new[] { a, b, c, d }) client.Poll(0);
                    }
                    Assert.Equal(RelayClientState.Established, a.State, "a while the relay is up");
                    Assert.Equal(RelayClientState.Established, b.State, "b while the relay is up");

                    relay.Dispose(); // as if it restarted: every channel is gone (a second Dispose is harmless)
                    clock = Stopwatch.StartNew();
                    List<RelayClientState> changes = new List<RelayClientState>();
                    a.StateChanged += (sender, state) => changes.Add(state);
                    while (a.State != RelayClientState.Lost || b.State != RelayClientState.Lost)
                    {
                        if (clock.ElapsedMilliseconds > 3000) throw new TestFailure("not lost within 3 s of the stop");
                        System.Threading.Thread.Sleep(2);
                        foreach (RelayClient client in new[] { a, b, c, d }) client.Poll(0);
                    }
                    Assert.True(clock.ElapsedMilliseconds >= 250, "lost " + clock.ElapsedMilliseconds + " ms after the stop, before the 400 ms timeout");
                    Assert.Equal("Lost", string.Join(",", changes), "one StateChanged, to Lost");
                    RelayException lost = a.Failure;
                    Assert.True(lost != null, "Failure says why");
                    Assert.Equal(RelayStatus.PeerLost, lost.Status, "status");
                    Assert.Contains(lost.NativeMessage, "for 400 ms (peer_timeout_ms)", "native message names the timeout");
                    Assert.Contains(lost.Message, "peer lost", "exception message names the status");
                    Assert.Equal(RelayClientState.Lost, a.State, "final state");
                    RelayException e2 = Assert.Throws<RelayException>(() => a.Send(new byte[4], 0, 4), "Send once lost");
                    Assert.Equal(RelayStatus.PeerLost, e2.Status, "Send status once lost");
                    int length;
                    e2 = Assert.Throws<RelayException>(() => a.TryReceive(new byte[4], 0, 4, out length), "TryReceive once lost");
                    Assert.Equal(RelayStatus.PeerLost, e2.Status, "TryReceive status once lost");
                    // Without a peer timeout the same dead channel still looks established.
                    Assert.Equal(RelayClientState.Established, c.State, "control c");
                    Assert.Equal(RelayClientState.Established, d.State, "control d");
                }
            }

            // RelayHandshake reports Lost through its State and Poll too.
            RelayClientOptions machine = new RelayClientOptions();
            machine.Guid = guid;
            machine.KeepaliveIntervalMs = 0;
            machine.PeerTimeoutMs = 50;
            using (RelayHandshake handshake = RelayHandshake.Create(machine))
            {
                byte[] buffer = new byte[Native.MaxHandshakeLength];
                int n = handshake.Poll(buffer, 0, buffer.Length);
                Assert.Equal(RelayDatagramKind.Handshake, handshake.Receive(buffer, 0, n), "the peer's handshake");
                Assert.Equal(RelayClientState.Established, handshake.State, "established");
                Assert.True(handshake.NextTimeoutMs <= 50, "the loss is scheduled, next in " + handshake.NextTimeoutMs + " ms");
                System.Threading.Thread.Sleep(80);
                Assert.Equal(RelayClientState.Lost, handshake.State, "lost after 50 ms of silence");
                RelayException e = Assert.Throws<RelayException>(() => handshake.Poll(buffer, 0, buffer.Length), "Poll once lost");
                Assert.Equal(RelayStatus.PeerLost, e.Status, "handshake Poll status once lost");
                Assert.Equal(RelayDatagramKind.Discarded, handshake.Receive(buffer, 0, n), "discarded once lost");
            }
        }

        private static void WrongClientOptionsThrow()
        {
            RelayClientOptions zero = ClientOptions(6060, default(RelayGuid));
            RelayException e = Assert.Throws<RelayException>(() => RelayClient.Connect(zero), "zero GUID");
            Assert.Equal(RelayStatus.InvalidArgument, e.Status, "status of a zero GUID");
            Assert.Contains(e.NativeMessage, "config.guid is zero", "native message");

            RelayClientOptions noAddress = ClientOptions(6060, new RelayGuid(1, 2));
            noAddress.RelayAddress = null;
            e = Assert.Throws<RelayException>(() => RelayClient.Connect(noAddress), "no relay address");
            Assert.Equal(RelayStatus.NullArgument, e.Status, "status without an address");
            Assert.Contains(e.NativeMessage, "relay_address", "native message names the field");

            RelayClientOptions badAddress = ClientOptions(6060, new RelayGuid(1, 2));
            badAddress.RelayAddress = "no-port-here";
            e = Assert.Throws<RelayException>(() => RelayClient.Connect(badAddress), "bad relay address");
            Assert.Equal(RelayStatus.InvalidAddress, e.Status, "status of a bad address");
            Assert.Contains(e.NativeMessage, "no-port-here", "native message quotes the address");

            RelayClientOptions backwards = ClientOptions(6060, new RelayGuid(1, 2));
            backwards.RetryBackoffMaxMs = backwards.RetryIntervalMs - 1;
            e = Assert.Throws<RelayException>(() => RelayClient.Connect(backwards), "backoff below the retry interval");
            Assert.Equal(RelayStatus.InvalidArgument, e.Status, "status of inconsistent timing");
            e = Assert.Throws<RelayException>(() => RelayHandshake.Create(zero), "RelayHandshake with a zero GUID");
            Assert.Equal(RelayStatus.InvalidArgument, e.Status, "RelayHandshake status of a zero GUID");

            Assert.Throws<ArgumentNullException>(() => RelayClient.Connect(null), "null options");
            Assert.Throws<ArgumentNullException>(() => RelayHandshake.Create(null), "null handshake options");
        }

        private static void ClientDisposeTwiceIsSafe()
        {
            using (Relay relay = Relay.Start(LoopbackRelay()))
            {
                RelayClient client = RelayClient.Connect(ClientOptions(relay.Port, RelayGuid.NewRandom()));
                ushort port = client.LocalPort;
                client.Dispose();
                client.Dispose();
                Assert.True(client.IsDisposed, "IsDisposed");
                // The socket is really closed: its port can be bound again.
                using (UdpClient rebound = new UdpClient(new IPEndPoint(IPAddress.Loopback, port)))
                {
                    Assert.Equal((int)port, ((IPEndPoint)rebound.Client.LocalEndPoint).Port, "port rebound");
                }
            }
            RelayClientOptions options = new RelayClientOptions();
            options.Guid = RelayGuid.NewRandom();
            RelayHandshake handshake = RelayHandshake.Create(options);
            handshake.Dispose();
            handshake.Dispose();
            Assert.True(handshake.IsDisposed, "handshake IsDisposed");
        }

        private static void ClientCallsAfterDisposeThrow()
        {
            RelayClient client = RelayClient.Connect(ClientOptions(6060, RelayGuid.NewRandom()));
            client.Dispose();
            byte[] buffer = new byte[64];
            int length;
            Assert.Throws<ObjectDisposedException>(() => client.Poll(), "Poll");
            Assert.Throws<ObjectDisposedException>(() => { RelayClientState s = client.State; }, "State");
            Assert.Throws<ObjectDisposedException>(() => client.Send(buffer, 0, 8), "Send");
            Assert.Throws<ObjectDisposedException>(() => client.TryReceive(buffer, 0, buffer.Length, out length), "TryReceive");
            Assert.Throws<ObjectDisposedException>(() => { ushort p = client.LocalPort; }, "LocalPort");

            RelayClientOptions options = new RelayClientOptions();
            options.Guid = RelayGuid.NewRandom();
            RelayHandshake handshake = RelayHandshake.Create(options);
            handshake.Dispose();
            Assert.Throws<ObjectDisposedException>(() => handshake.Poll(buffer, 0, buffer.Length), "handshake Poll");
            Assert.Throws<ObjectDisposedException>(() => handshake.Receive(buffer, 0, 8), "handshake Receive");
            Assert.Throws<ObjectDisposedException>(() => handshake.OnDataSent(), "handshake OnDataSent");
            Assert.Throws<ObjectDisposedException>(() => { RelayClientState s = handshake.State; }, "handshake State");
            Assert.Throws<ObjectDisposedException>(() => { uint ms = handshake.NextTimeoutMs; }, "handshake NextTimeoutMs");
        }

        private static void TooSmallReceiveBufferKeepsDatagram()
        {
            RelayGuid guid = RelayGuid.NewRandom();
            using (Relay relay = Relay.Start(LoopbackRelay()))
            using (RelayClient a = RelayClient.Connect(ClientOptions(relay.Port, guid)))
            using (RelayClient b = RelayClient.Connect(ClientOptions(relay.Port, guid)))
            {
                Establish(relay, a, b);
                byte[] sent = new byte[500];
                for (int i = 0; i < sent.Length; i++) sent[i] = (byte)(i * 7);
                Assert.True(a.Send(sent, 0, sent.Length), "sent");
                PumpUntil(relay, () => b.Poll(0) == 1, "datagram queued at B", a);

                byte[] small = new byte[100];
                int length = -1;
                RelayException e = Assert.Throws<RelayException>(() => b.TryReceive(small, 0, small.Length, out length), "100-byte buffer");
                Assert.Equal(RelayStatus.BufferTooSmall, e.Status, "status");
                Assert.Contains(e.NativeMessage, "500 bytes", "native message gives the datagram's size");
                Assert.Equal(1, b.Poll(0), "the datagram is still queued");

                byte[] big = new byte[1000];
                Assert.True(b.TryReceive(big, 10, 600, out length), "600 bytes at offset 10");
                Assert.Equal(500, length, "length");
                Assert.Equal(Convert.ToBase64String(sent), Convert.ToBase64String(big, 10, length), "content");
                Assert.True(!b.TryReceive(big, 0, big.Length, out length), "nothing more queued");
                Assert.Equal(0, length, "length when nothing is queued");
                Assert.Throws<ArgumentOutOfRangeException>(() => b.TryReceive(big, 900, 200, out length), "range past the buffer");
                Assert.Throws<ArgumentOutOfRangeException>(() => a.Send(big, -1, 10), "negative offset");
                Assert.Throws<ArgumentNullException>(() => a.Send(null, 0, 0), "null buffer");
            }
        }

        private static void HandshakeOverUdpClientPairsWithClient()
        {
            const int rounds = 50;
            RelayGuid guid = RelayGuid.NewRandom();
            using (Relay relay = Relay.Start(LoopbackRelay()))
            using (RelayClient client = RelayClient.Connect(ClientOptions(relay.Port, guid)))
            using (UdpClient socket = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
            {
                IPEndPoint relayEndPoint = new IPEndPoint(IPAddress.Loopback, relay.Port);
                RelayClientOptions options = new RelayClientOptions();
                options.Guid = guid;
                options.RetryIntervalMs = 20;
                options.RetryBackoffMaxMs = 100;
                using (RelayHandshake handshake = RelayHandshake.Create(options))
                {
                    Assert.Equal(0u, handshake.NextTimeoutMs, "first handshake due at once");
                    byte[] outgoing = new byte[Native.HandshakeLength];
                    Queue<string> engineReceived = new Queue<string>();
                    int handshakesSent = 0, handshakesReceived = 0;
                    // One tick of the engine that owns `socket`.
                    Action engineTick = () =>
                    {
                        while (socket.Available > 0)
                        {
                            IPEndPoint from = null;
                            byte[] datagram = socket.Receive(ref from);
                            if (!from.Equals(relayEndPoint)) continue;
                            RelayDatagramKind kind = handshake.Receive(datagram, 0, datagram.Length);
                            if (kind == RelayDatagramKind.Data) engineReceived.Enqueue(Encoding.UTF8.GetString(datagram));
                            else if (kind == RelayDatagramKind.Handshake) handshakesReceived++;
                            else throw new TestFailure("discarded a datagram from the relay");
                        }
                        int n = handshake.Poll(outgoing, 0, outgoing.Length);
                        if (n > 0)
                        {
                            Assert.Equal(Native.HandshakeLength, n, "handshake length");
                            Assert.True(RelayHandshake.IsValid(outgoing, 0, n, guid, null), "the machine writes valid handshakes");
                            socket.Send(outgoing, n, relayEndPoint);
                            handshakesSent++;
                        }
                    };
                    Stopwatch clock = Stopwatch.StartNew();
                    while (client.State != RelayClientState.Established || handshake.State != RelayClientState.Established)
                    {
                        if (clock.ElapsedMilliseconds > 5000) throw new TestFailure("not established within 5 s");
                        engineTick();
                        relay.Poll(1);
                        client.Poll(0);
                    }
                    Assert.True(handshakesSent >= 1 && handshakesReceived >= 1,
                        handshakesSent + " handshakes sent, " + handshakesReceived + " received");
                    uint next = handshake.NextTimeoutMs;
                    Assert.True(next <= options.KeepaliveIntervalMs, "keep-alive scheduled, next in " + next + " ms");

                    byte[] rx = new byte[2048];
                    for (int i = 0; i < rounds; i++)
                    {
                        byte[] fromEngine = Encoding.UTF8.GetBytes("engine " + i);
                        socket.Send(fromEngine, fromEngine.Length, relayEndPoint);
                        handshake.OnDataSent();
                        byte[] fromClient = Encoding.UTF8.GetBytes("client " + i);
                        Assert.True(client.Send(fromClient, 0, fromClient.Length), "client send");

                        int length = 0;
                        bool clientGot = false;
                        clock = Stopwatch.StartNew();
                        while (!clientGot || engineReceived.Count == 0)
                        {
                            if (clock.ElapsedMilliseconds > 3000) throw new TestFailure("round " + i + " not delivered within 3 s");
                            relay.Poll(1);
                            client.Poll(0);
                            engineTick();
                            if (!clientGot) clientGot = client.TryReceive(rx, 0, rx.Length, out length);
                        }
                        Assert.Equal("engine " + i, Encoding.UTF8.GetString(rx, 0, length), "engine -> client");
                        Assert.Equal("client " + i, engineReceived.Dequeue(), "client -> engine");
                    }
                    Assert.Equal(RelayClientState.Established, handshake.State, "still established");
                }
            }
        }

        private static void GuidNativeRoundTrips()
        {
            HashSet<RelayGuid> seen = new HashSet<RelayGuid>();
            for (int i = 0; i < 1000; i++)
            {
                RelayGuid guid = RelayGuid.NewRandom();
                Assert.True(!guid.IsZero, "NewRandom is never zero");
                Assert.True(seen.Add(guid), "NewRandom repeats itself");
                string text = guid.ToString();
                Assert.Equal(36, text.Length, "text length");
                Assert.Equal(guid.ToGuid().ToString("D"), text, "same text as System.Guid");
                Assert.Equal(guid, RelayGuid.Parse(text), "Parse(ToString())");
                Assert.Equal(guid, RelayGuid.Parse("{" + text.ToUpperInvariant() + "}"), "braces, upper case");
            }
            RelayGuid parsed;
            FormatException e = Assert.Throws<FormatException>(() => RelayGuid.Parse("not-a-guid"), "garbage");
            Assert.Contains(e.Message, "not-a-guid", "message quotes the text");
            RelayException inner = e.InnerException as RelayException;
            Assert.True(inner != null && inner.Status == RelayStatus.InvalidArgument, "inner RelayException(InvalidArgument)");
            Assert.True(!RelayGuid.TryParse("01234567-89ab-cdef-fedc-ba987654321", out parsed), "one digit short");
            Assert.True(!RelayGuid.TryParse("01234567-89ab-cdef-fedc-ba9876543210\0junk", out parsed), "embedded NUL");
            Assert.True(RelayGuid.TryParse("01234567-89ab-cdef-fedc-ba9876543210", out parsed), "TryParse");
            Assert.Equal(new RelayGuid(0x0123456789abcdefUL, 0xfedcba9876543210UL), parsed, "TryParse value");
            Assert.Equal("00000000-0000-0000-0000-000000000000", default(RelayGuid).ToString(), "zero formats");
            Assert.Throws<ArgumentNullException>(() => RelayGuid.Parse(null), "null");
        }

        /// <summary>One case of tests/vectors/handshake-v08.json.</summary>
        private sealed class Vector
        {
            public string Name;
            public uint[] Words;
            public string GuidText;
            public byte[] Key;
            public byte[] Datagram;
            public bool Valid;

            public RelayGuid Guid
            {
                get { return new RelayGuid((ulong)Words[0] << 32 | Words[1], (ulong)Words[2] << 32 | Words[3]); }
            }
        }

        /// <summary>Reads the vector file without a JSON library: every case is a flat object
        /// whose fields are strings, a bool, or a list of numbers.</summary>
        private static List<Vector> ReadVectors()
        {
            string path = Environment.GetEnvironmentVariable("UDP_RELAY_VECTORS");
            Assert.True(!string.IsNullOrEmpty(path), "UDP_RELAY_VECTORS is set");
            string json = System.IO.File.ReadAllText(path);
            List<Vector> vectors = new List<Vector>();
            string[] cases = json.Substring(json.IndexOf("\"cases\"", StringComparison.Ordinal)).Split('{');
            for (int i = 1; i < cases.Length; i++)
            {
                string c = cases[i];
                Vector v = new Vector();
                v.Name = StringField(c, "name");
                string[] words = RawField(c, "guid_words").Trim('[', ']', ' ', '\n', '\r').Split(',');
                v.Words = new uint[words.Length];
                for (int w = 0; w < words.Length; w++) v.Words[w] = uint.Parse(words[w].Trim());
                v.GuidText = StringField(c, "guid_text");
                v.Key = Convert.FromBase64String(StringField(c, "key_base64"));
                v.Datagram = FromHex(StringField(c, "datagram_hex"));
                v.Valid = RawField(c, "valid").Trim() == "true";
                Assert.Equal(4, v.Words.Length, v.Name + ": guid_words");
                vectors.Add(v);
            }
            return vectors;
        }

        private static string RawField(string obj, string name)
        {
            int at = obj.IndexOf("\"" + name + "\"", StringComparison.Ordinal);
            if (at < 0) throw new TestFailure("vector field " + name + " missing in " + obj);
            int start = obj.IndexOf(':', at) + 1;
            while (char.IsWhiteSpace(obj[start])) start++;
            int end;
            if (obj[start] == '[') end = obj.IndexOf(']', start) + 1;
            else if (obj[start] == '"') end = obj.IndexOf('"', start + 1) + 1;
            else end = obj.IndexOfAny(new[] { ',', '}', '\n' }, start);
            return obj.Substring(start, end - start).Trim();
        }

        private static string StringField(string obj, string name)
        {
            return RawField(obj, name).Trim('"');
        }

        private static byte[] FromHex(string hex)
        {
            byte[] bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
            return bytes;
        }

        private static void GuidsAndHandshakesMatchVectors()
        {
            List<Vector> vectors = ReadVectors();
            Assert.True(vectors.Count >= 10, "read " + vectors.Count + " vectors");
            int written = 0, valid = 0, invalid = 0;
            byte[] buffer = new byte[Native.HandshakeLength + 8];
            foreach (Vector v in vectors)
            {
                RelayGuid guid = v.Guid;
                Assert.Equal(guid, RelayGuid.Parse(v.GuidText), v.Name + ": Parse(guid_text)");
                Assert.Equal(v.GuidText, guid.ToString(), v.Name + ": ToString");
                byte[] key = v.Key.Length == 0 ? null : v.Key;
                Assert.Equal(v.Valid, RelayHandshake.IsValid(v.Datagram, 0, v.Datagram.Length, guid, key), v.Name + ": IsValid");
                if (!v.Valid)
                {
                    invalid++;
                    RelayException e = Assert.Throws<RelayException>(() => RelayHandshake.Validate(v.Datagram, 0, v.Datagram.Length, guid, key), v.Name + ": Validate");
                    Assert.Equal(RelayStatus.InvalidHandshake, e.Status, v.Name + ": status");
                    Assert.True(e.NativeMessage.Length > 0, v.Name + ": a reason is given");
                    continue;
                }
                valid++;
                RelayHandshake.Validate(v.Datagram, 0, v.Datagram.Length, guid, key);
                // relay_handshake_write writes flags 0 and no extension: compare those cases.
                bool plain = v.Datagram.Length == Native.HandshakeLength && v.Datagram[4] == 0 && v.Datagram[5] == 0
                    && v.Datagram[6] == 0 && v.Datagram[7] == 0;
                if (!plain) continue;
                int n = RelayHandshake.Write(guid, key, buffer, 8, Native.HandshakeLength);
                Assert.Equal(Native.HandshakeLength, n, v.Name + ": written length");
                Assert.Equal(BitConverter.ToString(v.Datagram), BitConverter.ToString(buffer, 8, n), v.Name + ": written bytes");
                written++;
            }
            Assert.True(written >= 3, written + " vectors compared byte for byte");
            Assert.True(valid >= 5 && invalid >= 5, valid + " valid, " + invalid + " invalid vectors");

            RelayException zero = Assert.Throws<RelayException>(() => RelayHandshake.Write(default(RelayGuid), null, buffer, 0, buffer.Length), "zero GUID");
            Assert.Equal(RelayStatus.InvalidArgument, zero.Status, "Write status of a zero GUID");
            RelayException small = Assert.Throws<RelayException>(() => RelayHandshake.Write(new RelayGuid(1, 2), null, buffer, 0, 55), "55 bytes");
            Assert.Equal(RelayStatus.BufferTooSmall, small.Status, "Write status of a short buffer");
        }

        private static void V08DefaultKeyMatchesItsVector()
        {
            Vector v = ReadVectors().Find(c => c.Name == "reference_default_key");
            Assert.True(v != null, "the reference_default_key vector");
            Assert.Equal(BitConverter.ToString(v.Key), BitConverter.ToString(RelayKeys.V08Default), "key bytes");
            byte[] buffer = new byte[Native.HandshakeLength];
            int n = RelayHandshake.Write(v.Guid, RelayKeys.V08Default, buffer, 0, buffer.Length);
            Assert.Equal(BitConverter.ToString(v.Datagram), BitConverter.ToString(buffer, 0, n), "written bytes");
            byte[] mine = RelayKeys.V08Default;
            mine[0] ^= 1;
            Assert.Equal((byte)'f', RelayKeys.V08Default[0], "every read is a fresh copy");
        }

        private static void V08DefaultKeyClientsPair()
        {
            RelayOptions keyedOptions = LoopbackRelay();
            keyedOptions.SecretKey = RelayKeys.V08Default;
            using (Relay keyed = Relay.Start(keyedOptions))
            using (Relay unkeyed = Relay.Start(LoopbackRelay()))
            {
                foreach (Relay relay in new[] { keyed, unkeyed })
                {
                    RelayClientOptions options = ClientOptions(relay.Port, RelayGuid.NewRandom());
                    options.SecretKey = RelayKeys.V08Default;
                    using (RelayClient a = RelayClient.Connect(options))
                    using (RelayClient b = RelayClient.Connect(options))
                    {
                        Establish(relay, a, b);
                    }
                }

                // The relay keyed with it refuses the zero mac of unkeyed clients.
                RelayClientOptions plain = ClientOptions(keyed.Port, RelayGuid.NewRandom());
                using (RelayClient a = RelayClient.Connect(plain))
                using (RelayClient b = RelayClient.Connect(plain))
                {
                    ulong rejectedBefore = keyed.Stats.HandshakesRejected;
                    PumpUntil(keyed, () => keyed.Stats.HandshakesRejected >= rejectedBefore + 4,
                        "the keyed relay rejects unkeyed handshakes", a, b);
                    Assert.Equal(RelayClientState.Handshaking, a.State, "A not established");
                    Assert.Equal(RelayClientState.Handshaking, b.State, "B not established");
                }
            }
        }

        private static void ClientDoesNotAllocate()
        {
            RelayGuid guid = RelayGuid.NewRandom();
            using (Relay relay = Relay.Start(LoopbackRelay()))
            using (RelayClient a = RelayClient.Connect(ClientOptions(relay.Port, guid)))
            using (RelayClient b = RelayClient.Connect(ClientOptions(relay.Port, guid)))
            {
                Establish(relay, a, b);
                byte[] payload = new byte[64];
                byte[] rx = new byte[2048];
                int received = 0;
                for (int i = 0; i < 200; i++) received += Exchange(relay, a, b, payload, rx);
                received = 0;
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 2000; i++) received += Exchange(relay, a, b, payload, rx);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.Equal(0L, allocated, "bytes allocated by 2000 rounds of send, poll and receive");
                Assert.True(received >= 2000, "only " + received + " datagrams received while measuring");
            }
        }

        private static int Exchange(Relay relay, RelayClient a, RelayClient b, byte[] payload, byte[] rx)
        {
            int received = 0, length;
            a.Send(payload, 0, payload.Length);
            b.Send(payload, 0, 32);
            relay.Poll(1);
            a.Poll(0);
            b.Poll(0);
            while (a.TryReceive(rx, 0, rx.Length, out length)) received++;
            while (b.TryReceive(rx, 0, rx.Length, out length)) received++;
#if UDP_RELAY_SPAN
            a.Send(new ReadOnlySpan<byte>(payload, 0, 16));
            relay.Poll(1);
            b.Poll(0);
            while (b.TryReceive(new Span<byte>(rx), out length)) received++;
#endif
            if (a.State != RelayClientState.Established || b.LocalPort == 0) throw new TestFailure("lost the channel");
            return received;
        }

        private static void HandshakeDoesNotAllocate()
        {
            RelayClientOptions options = new RelayClientOptions();
            options.Guid = RelayGuid.NewRandom();
            using (RelayHandshake handshake = RelayHandshake.Create(options))
            {
                byte[] buffer = new byte[Native.HandshakeLength];
                byte[] data = new byte[100];
                for (int i = 0; i < 100; i++) HandshakeTick(handshake, buffer, data);
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 10000; i++) HandshakeTick(handshake, buffer, data);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.Equal(0L, allocated, "bytes allocated by 10000 handshake ticks");
                Assert.Equal(RelayClientState.Established, handshake.State, "data from the peer established the machine");
            }
        }

        private static void HandshakeTick(RelayHandshake handshake, byte[] buffer, byte[] data)
        {
            handshake.Poll(buffer, 0, buffer.Length);
            if (handshake.Receive(data, 0, data.Length) != RelayDatagramKind.Data) throw new TestFailure("not data");
            handshake.OnDataSent();
            if (handshake.NextTimeoutMs == 0 && handshake.State == RelayClientState.Closed) throw new TestFailure("closed");
#if UDP_RELAY_SPAN
            handshake.Poll(new Span<byte>(buffer));
            handshake.Receive(new ReadOnlySpan<byte>(data, 0, 10));
#endif
        }

        private static readonly byte[] TokenSecret = Encoding.ASCII.GetBytes("the relay's secret, shared with the matchmaker only");

        internal static ulong UnixNow()
        {
            return (ulong)(DateTime.UtcNow - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalSeconds;
        }

        private static RelayOptions TokenRelay()
        {
            RelayOptions options = LoopbackRelay();
            options.SecretKey = TokenSecret;
            options.RequireTokens = true;
            return options;
        }

        /// <summary>Options for a token holder: the GUID stays zero, the token supplies it.</summary>
        private static RelayClientOptions TokenOptions(ushort relayPort, byte[] token)
        {
            RelayClientOptions options = ClientOptions(relayPort, default(RelayGuid));
            options.Token = token;
            return options;
        }

        private static void TokenHoldersExchangeDatagrams()
        {
            const int count = 500;
            RelayGuid guid = RelayGuid.NewRandom();
            // The matchmaker's side: one token per seat.
            byte[] tokenA = RelayToken.Mint(TokenSecret, guid, RelayTokenRole.A, UnixNow() + 600);
            byte[] tokenB = RelayToken.Mint(TokenSecret, guid, RelayTokenRole.B, UnixNow() + 600);
            Assert.Equal(RelayToken.Length, tokenA.Length, "token length");
            using (Relay relay = Relay.Start(TokenRelay()))
            using (RelayClient a = RelayClient.Connect(TokenOptions(relay.Port, tokenA)))
            using (RelayClient b = RelayClient.Connect(TokenOptions(relay.Port, tokenB)))
            {
                Establish(relay, a, b);
                ExchangeDatagrams(relay, a, b, count);
                RelayStats stats = relay.Stats;
                Assert.Equal(1UL, stats.ChannelsEstablished, "channels established");
                Assert.Equal(0UL, stats.TokensInvalid + stats.TokensExpired + stats.TokensReplayed, "token refusals");
                Assert.Equal(0UL, stats.HandshakesRejected, "handshakes rejected");
            }

            // The control: a client without a token gets nowhere with this relay.
            using (Relay relay = Relay.Start(TokenRelay()))
            using (RelayClient plain = RelayClient.Connect(ClientOptions(relay.Port, guid)))
            {
                Stopwatch clock = Stopwatch.StartNew();
                while (clock.ElapsedMilliseconds < 300)
                {
                    relay.Poll(1);
                    plain.Poll(0);
                }
                Assert.Equal(RelayClientState.Handshaking, plain.State, "plain client still handshaking");
                Assert.True(relay.Stats.HandshakesRejected >= 2, "plain handshakes rejected: " + relay.Stats.HandshakesRejected);
                Assert.Equal(0UL, relay.Stats.ChannelsAllocatedTotal, "no channel for a plain client");
            }
        }

        // Computed independently with Python 3's hmac (see src/token.rs): secret bytes 0..31,
        // GUID 01234567-89ab-cdef-fedc-ba9876543210, expiry 1 900 000 000, sequence 7.
        private const string TokenAHex = "010000000123456789abcdeffedcba987654321000000000713fb300"
            + "d1a7d06a135ec84bba8e522edf04dbd43fdb871e2b66de152943eb2ae212bafb";
        private const string TokenBHex = "010100000123456789abcdeffedcba987654321000000000713fb300"
            + "2a39adafb11487bd6f7946aa07481abcad4ce328763aca977534bdb70710162a";
        private const string HandshakeA7Hex = "04b28000001480000123456789abcdeffedcba9876543210"
            + "1c828b38053662c785167ceb7fcd60482f7ede2e2f56c5a0be81dbcc755172d3"
            + "0100000000000000713fb3000000000000000007";

        private static void TokensMatchVectors()
        {
            byte[] secret = new byte[32];
            for (int i = 0; i < secret.Length; i++) secret[i] = (byte)i;
            RelayGuid guid = RelayGuid.Parse("01234567-89ab-cdef-fedc-ba9876543210");
            byte[] a = RelayToken.Mint(secret, guid, RelayTokenRole.A, 1900000000UL);
            byte[] b = RelayToken.Mint(secret, guid, RelayTokenRole.B, 1900000000UL);
            Assert.Equal(BitConverter.ToString(FromHex(TokenAHex)), BitConverter.ToString(a), "token A");
            Assert.Equal(BitConverter.ToString(FromHex(TokenBHex)), BitConverter.ToString(b), "token B");
            byte[] buffer = new byte[Native.TokenHandshakeLength + 4];
            int n = RelayToken.WriteHandshake(a, 7, buffer, 4, Native.TokenHandshakeLength);
            Assert.Equal(Native.TokenHandshakeLength, n, "token handshake length");
            Assert.Equal(BitConverter.ToString(FromHex(HandshakeA7Hex)), BitConverter.ToString(buffer, 4, n), "token handshake");
            // To a peer without the relay secret it is a well-formed handshake of the channel.
            Assert.True(RelayHandshake.IsValid(buffer, 4, n, guid, null), "parses without a key");

            RelayException e = Assert.Throws<RelayException>(() => RelayToken.Mint(secret, default(RelayGuid), RelayTokenRole.A, 1), "zero GUID");
            Assert.Equal(RelayStatus.InvalidArgument, e.Status, "status of a zero GUID");
            e = Assert.Throws<RelayException>(() => RelayToken.Mint(null, guid, RelayTokenRole.A, 1), "no secret");
            Assert.Contains(e.NativeMessage, "secret", "native message names the secret");
            e = Assert.Throws<RelayException>(() => RelayToken.Mint(secret, guid, (RelayTokenRole)2, 1), "role 2");
            Assert.Contains(e.NativeMessage, "role 2", "native message quotes the role");
            e = Assert.Throws<RelayException>(() => RelayToken.Mint(secret, guid, RelayTokenRole.A, 1, buffer, 0, 59), "59 bytes");
            Assert.Equal(RelayStatus.BufferTooSmall, e.Status, "Mint status of a short buffer");
            e = Assert.Throws<RelayException>(() => RelayToken.WriteHandshake(a, 8, buffer, 0, 75), "75 bytes");
            Assert.Equal(RelayStatus.BufferTooSmall, e.Status, "WriteHandshake status of a short buffer");
        }

        private static void TokenHandshakeOverUdpClient()
        {
            RelayGuid guid = RelayGuid.NewRandom();
            byte[] tokenA = RelayToken.Mint(TokenSecret, guid, RelayTokenRole.A, UnixNow() + 600);
            byte[] tokenB = RelayToken.Mint(TokenSecret, guid, RelayTokenRole.B, UnixNow() + 600);
            using (Relay relay = Relay.Start(TokenRelay()))
            using (RelayClient client = RelayClient.Connect(TokenOptions(relay.Port, tokenB)))
            using (UdpClient socket = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
            using (RelayHandshake handshake = RelayHandshake.Create(TokenOptions(relay.Port, tokenA)))
            {
                IPEndPoint relayEndPoint = new IPEndPoint(IPAddress.Loopback, relay.Port);
                // The 56-byte buffer of a plain handshake does not fit a token handshake.
                byte[] small = new byte[Native.HandshakeLength];
                RelayException e = Assert.Throws<RelayException>(() => handshake.Poll(small, 0, small.Length), "56-byte buffer");
                Assert.Equal(RelayStatus.BufferTooSmall, e.Status, "status of a 56-byte buffer");
                Assert.Contains(e.NativeMessage, "RELAY_MAX_HANDSHAKE_LEN", "native message names the constant");
                Assert.Equal(0u, handshake.NextTimeoutMs, "the handshake is still due");

                byte[] outgoing = new byte[Native.MaxHandshakeLength];
                int engineGot = 0, handshakesIn = 0;
                ulong lastSequence = 0;
                Action engineTick = () =>
                {
                    while (socket.Available > 0)
                    {
                        IPEndPoint from = null;
                        byte[] datagram = socket.Receive(ref from);
                        RelayDatagramKind kind = handshake.Receive(datagram, 0, datagram.Length);
                        if (kind == RelayDatagramKind.Data)
                        {
                            Assert.Equal("from the client", Encoding.UTF8.GetString(datagram), "engine received");
                            engineGot++;
                        }
                        else if (kind == RelayDatagramKind.Handshake) handshakesIn++;
                        else throw new TestFailure("discarded a datagram from the relay");
                    }
                    int n = handshake.Poll(outgoing, 0, outgoing.Length);
                    if (n > 0)
                    {
                        // 76 bytes, 92 once it echoes the relay's return-path cookie.
                        Assert.True(n == Native.TokenHandshakeLength || n == Native.TokenHandshakeLength + 16,
                            "token handshake length " + n);
                        ulong sequence = 0;
                        for (int i = 68; i < 76; i++) sequence = (sequence << 8) | outgoing[i];
                        Assert.True(sequence > lastSequence, "sequence " + sequence + " after " + lastSequence);
                        lastSequence = sequence;
                        socket.Send(outgoing, n, relayEndPoint);
                    }
                };
                Stopwatch clock = Stopwatch.StartNew();
                while (client.State != RelayClientState.Established || handshake.State != RelayClientState.Established)
                {
                    if (clock.ElapsedMilliseconds > 5000) throw new TestFailure("not established within 5 s");
                    engineTick();
                    relay.Poll(1);
                    client.Poll(0);
                }
                Assert.True(handshakesIn >= 1, "the client's token handshakes reached the machine, not the game");
                byte[] hello = Encoding.UTF8.GetBytes("from the client");
                byte[] rx = new byte[64];
                for (int i = 0; i < 20; i++)
                {
                    Assert.True(client.Send(hello, 0, hello.Length), "client send");
                    byte[] fromEngine = Encoding.UTF8.GetBytes("from the engine " + i);
                    socket.Send(fromEngine, fromEngine.Length, relayEndPoint);
                    handshake.OnDataSent();
                    int length = 0;
                    bool clientGot = false;
                    clock = Stopwatch.StartNew();
                    while (!clientGot || engineGot <= i)
                    {
                        if (clock.ElapsedMilliseconds > 3000) throw new TestFailure("round " + i + " not delivered within 3 s");
                        relay.Poll(1);
                        client.Poll(0);
                        engineTick();
                        if (!clientGot) clientGot = client.TryReceive(rx, 0, rx.Length, out length);
                    }
                    Assert.Equal("from the engine " + i, Encoding.UTF8.GetString(rx, 0, length), "engine -> client");
                }
                Assert.Equal(0UL, relay.Stats.TokensReplayed + relay.Stats.TokensInvalid, "token refusals");
            }
        }

        private static void BadTokensThrow()
        {
            RelayGuid guid = RelayGuid.NewRandom();
            byte[] token = RelayToken.Mint(TokenSecret, guid, RelayTokenRole.A, UnixNow() + 600);
            byte[] shortToken = new byte[59];
            Array.Copy(token, shortToken, shortToken.Length);
            RelayException e = Assert.Throws<RelayException>(() => RelayClient.Connect(TokenOptions(6060, shortToken)), "59-byte token");
            Assert.Equal(RelayStatus.InvalidArgument, e.Status, "status of a 59-byte token");
            Assert.Contains(e.NativeMessage, "token_len is 59", "native message gives the length");
            e = Assert.Throws<RelayException>(() => RelayHandshake.Create(TokenOptions(6060, shortToken)), "59-byte token, RelayHandshake");
            Assert.Equal(RelayStatus.InvalidArgument, e.Status, "RelayHandshake status of a 59-byte token");

            RelayClientOptions otherGuid = TokenOptions(6060, token);
            otherGuid.Guid = RelayGuid.NewRandom();
            e = Assert.Throws<RelayException>(() => RelayClient.Connect(otherGuid), "token for another GUID");
            Assert.Contains(e.NativeMessage, "not the GUID", "native message explains the GUID mismatch");
        }
    }
}
