// Tests of the C# bindings against the real native library, run on Mono by tests/csharp.rs:
// real UDP peers on 127.0.0.1 handshake and exchange datagrams through a Relay ticked from
// this thread.
//
//   mono RelayTests.exe                          the full suite
//   mono RelayTests.exe --expect-abi-mismatch    run against a library reporting another ABI
//   mono RelayTests.exe --expect-missing-library run where no native library can be found
//
// Environment (set by tests/csharp.rs): UDP_RELAY_EXPECTED_VERSION (the crate version) and
// UDP_RELAY_LAYOUT ("Type=size;Type.Field=offset;..." measured on the Rust side) and
// UDP_RELAY_VECTORS (path of tests/vectors/handshake-v08.json). Client tests: ClientTests.cs.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace UdpRelay.Tests
{
    internal static class RelayTests
    {
        private static int Main(string[] args)
        {
            TestRunner runner = new TestRunner();
            string mode = args.Length > 0 ? args[0] : "";
            if (mode == "--expect-abi-mismatch")
            {
                runner.Add("mismatched native ABI is refused with a clear message", AbiMismatchIsRefused);
            }
            else if (mode == "--expect-missing-library")
            {
                runner.Add("missing native library is reported with a clear message", MissingLibraryIsReported);
            }
            else
            {
                runner.Add("library loads and reports its version", LibraryLoadsAndReportsVersion);
                runner.Add("struct layouts match the native ones", StructLayoutsMatchNative);
                runner.Add("guid conversion round-trips", GuidConversionRoundTrips);
                runner.Add("two peers exchange datagrams through the relay", TwoPeersExchangeDatagrams);
                runner.Add("idle channel closes with an expired event", IdleChannelExpires);
                runner.Add("a coalescing window still relays every datagram in order", CoalescingWindowRelaysInOrder);
                runner.Add("wrong config throws RelayException with the native message", WrongConfigThrows);
                runner.Add("dispose twice is safe", DisposeTwiceIsSafe);
                runner.Add("calls after dispose throw ObjectDisposedException", CallsAfterDisposeThrow);
                runner.Add("drain with no channel reports drained", DrainReportsDrained);
                runner.Add("sized outputs take their size and refuse too small a one", SizedOutputsCheckTheirSize);
                runner.Add("log callback fires and can be turned off", LogCallbackFires);
                runner.Add("log callback set in an unloaded domain is cleared with it", LogCallbackClearedOnDomainUnload);
                runner.Add("poll, events and stats do not allocate", PollDoesNotAllocate);
                ClientTests.Register(runner);
                FollowTests.Register(runner);
            }
            return runner.Run() == 0 ? 0 : 1;
        }

        private static RelayOptions LoopbackOptions()
        {
            RelayOptions options = new RelayOptions();
            options.Port = 0;
            options.BindAddress = "127.0.0.1";
            return options;
        }

        private static RelayEvent NextEvent(Relay relay, RelayEventKind kind, int timeoutMs = 3000)
        {
            Stopwatch clock = Stopwatch.StartNew();
            while (clock.ElapsedMilliseconds < timeoutMs)
            {
                relay.Poll(5);
                RelayEvent ev;
                if (relay.TryGetNextEvent(out ev))
                {
                    Assert.Equal(kind, ev.Kind, "kind of the next event");
                    return ev;
                }
            }
            throw new TestFailure("no " + kind + " event within " + timeoutMs + " ms");
        }

        private static void LibraryLoadsAndReportsVersion()
        {
            RelayLibrary.EnsureLoaded();
            Assert.Equal(Native.AbiVersion, Native.relay_abi_version(), "relay_abi_version");
            string expected = Environment.GetEnvironmentVariable("UDP_RELAY_EXPECTED_VERSION");
            Assert.True(!string.IsNullOrEmpty(expected), "UDP_RELAY_EXPECTED_VERSION is set");
            Assert.Equal(expected, RelayLibrary.Version, "RelayLibrary.Version");
            Assert.Equal("address in use", RelayException.StatusName(RelayStatus.AddressInUse), "relay_status_str");
        }

        private static readonly Dictionary<string, Type> LayoutTypes = new Dictionary<string, Type>
        {
            { "RelayConfig", typeof(RelayConfig) },
            { "RelayStats", typeof(RelayStats) },
            { "RelayGuid", typeof(RelayGuid) },
            { "RelayChannelCounters", typeof(RelayChannelCounters) },
            { "RelayAddress", typeof(RelayAddress) },
            { "RelayEvent", typeof(RelayEvent) },
            { "RelayClientConfig", typeof(RelayClientConfig) },
            { "RelayMeasurement", typeof(RelayMeasurement) },
            { "RelayRankEntry", typeof(RelayRankEntry) },
        };

        private static void StructLayoutsMatchNative()
        {
            string layout = Environment.GetEnvironmentVariable("UDP_RELAY_LAYOUT");
            Assert.True(!string.IsNullOrEmpty(layout), "UDP_RELAY_LAYOUT is set");
            int checkedCount = 0;
            foreach (string entry in layout.Split(';'))
            {
                string[] kv = entry.Split('=');
                string[] name = kv[0].Split('.');
                int expected = int.Parse(kv[1]);
                Type type;
                Assert.True(LayoutTypes.TryGetValue(name[0], out type), "C# mirror of " + name[0]);
                int actual = name.Length == 1
                    ? Marshal.SizeOf(type)
                    : Marshal.OffsetOf(type, name[1]).ToInt32();
                Assert.Equal(expected, actual, kv[0]);
                checkedCount++;
            }
            Assert.True(checkedCount >= LayoutTypes.Count, "every struct is checked");
        }

        private static void GuidConversionRoundTrips()
        {
            const string text = "01234567-89ab-cdef-fedc-ba9876543210";
            RelayGuid known = RelayGuid.FromGuid(new Guid(text));
            Assert.Equal(0x0123456789abcdefUL, known.Hi, "Hi of " + text);
            Assert.Equal(0xfedcba9876543210UL, known.Lo, "Lo of " + text);
            Assert.Equal(text, known.ToString(), "RelayGuid text");
            Assert.Equal(new Guid(text), known.ToGuid(), "back to System.Guid");
            Assert.Equal(known, RelayGuid.Parse(text.ToUpperInvariant()), "Parse");

            byte[] wire = new byte[20];
            known.WriteBigEndian(wire, 2);
            Assert.Equal("0123456789ABCDEFFEDCBA9876543210", BitConverter.ToString(wire, 2, 16).Replace("-", ""), "wire bytes");
            Assert.Equal(known, RelayGuid.ReadBigEndian(wire, 2), "ReadBigEndian");
            Assert.Throws<ArgumentOutOfRangeException>(() => known.WriteBigEndian(wire, 5), "too short a buffer");
#if UDP_RELAY_SPAN
            Span<byte> span = stackalloc byte[16];
            known.WriteBigEndian(span);
            Assert.Equal(known, RelayGuid.ReadBigEndian(span), "Span round trip");
#endif

            for (int i = 0; i < 1000; i++)
            {
                Guid g = Guid.NewGuid();
                RelayGuid r = RelayGuid.FromGuid(g);
                Assert.Equal(g, r.ToGuid(), "Guid -> RelayGuid -> Guid");
                Assert.Equal(g.ToString("D"), r.ToString(), "same text form");
                Assert.Equal(g.ToString("N").ToUpperInvariant(), BitConverter.ToString(WireBytes(r)).Replace("-", ""), "wire bytes are the text's hex digits");
            }
        }

        private static byte[] WireBytes(RelayGuid guid)
        {
            byte[] bytes = new byte[16];
            guid.WriteBigEndian(bytes, 0);
            return bytes;
        }

        private static void TwoPeersExchangeDatagrams()
        {
            Guid gameSession = Guid.NewGuid();
            RelayGuid guid = RelayGuid.FromGuid(gameSession);
            using (Relay relay = Relay.Start(LoopbackOptions()))
            using (Peer a = new Peer(relay.Port))
            using (Peer b = new Peer(relay.Port))
            {
                Assert.True(relay.Port != 0, "ephemeral port assigned");
                a.Send(Peer.Handshake(guid));
                RelayEvent allocated = NextEvent(relay, RelayEventKind.ChannelAllocated);
                Assert.Equal(gameSession, allocated.Guid.ToGuid(), "allocated GUID");
                Assert.Equal("127.0.0.1:" + a.Port, allocated.PeerA.ToString(), "peer A address");
                Assert.Equal(4, (int)allocated.PeerA.Family, "peer A family");

                b.Send(Peer.Handshake(guid));
                RelayEvent established = NextEvent(relay, RelayEventKind.ChannelEstablished);
                Assert.Equal(guid, established.Guid, "established GUID");
                Assert.Equal(a.Port, (int)established.PeerA.Port, "peer A port");
                Assert.Equal("127.0.0.1:" + b.Port, established.PeerB.ToIPEndPoint().ToString(), "peer B endpoint");
                byte[] text = new byte[64];
                int n = established.PeerB.Format(text, 0, text.Length);
                Assert.Equal("127.0.0.1:" + b.Port, Encoding.UTF8.GetString(text, 0, n), "Format into a byte[]");
                Assert.Equal(-1, established.PeerB.Format(text, 0, 4), "Format into a too-short buffer");

                // B's establishing handshake reaches A: that is how A learns it is paired.
                Assert.Equal(Convert.ToBase64String(Peer.Handshake(guid)), Convert.ToBase64String(a.Receive(relay)), "handshake forwarded to A");

                const int rounds = 5;
                for (int i = 0; i < rounds; i++)
                {
                    byte[] ping = Encoding.UTF8.GetBytes("ping " + i);
                    a.Send(ping);
                    Assert.Equal("ping " + i, Encoding.UTF8.GetString(b.Receive(relay)), "A -> B");
                    byte[] pong = new byte[200 + i * 500];
                    for (int j = 0; j < pong.Length; j++) pong[j] = (byte)(i + j);
                    b.Send(pong);
                    Assert.Equal(Convert.ToBase64String(pong), Convert.ToBase64String(a.Receive(relay)), "B -> A");
                }

                RelayChannelCounters counters;
                Assert.True(relay.TryGetChannel(guid, out counters), "channel is open");
                Assert.Equal((ulong)rounds, counters.DatagramsAToB, "A -> B datagrams");
                Assert.Equal((ulong)(rounds + 1), counters.DatagramsBToA, "B -> A datagrams (with the handshake)");
                Assert.True(!relay.TryGetChannel(RelayGuid.NewRandom(), out counters), "unknown channel");

                RelayStats stats = relay.Stats;
                Assert.Equal((ulong)(2 + 2 * rounds), stats.DatagramsIn, "datagrams in");
                Assert.Equal((ulong)(1 + 2 * rounds), stats.DatagramsOut, "datagrams out");
                Assert.Equal(2UL, stats.HandshakesAccepted, "handshakes accepted");
                Assert.Equal(1UL, stats.ChannelsEstablished, "channels established");

                RelayEvent none;
                Assert.True(!relay.TryGetNextEvent(out none), "no further event");
            }
        }

        private static void CoalescingWindowRelaysInOrder()
        {
            Assert.Equal(0u, new RelayOptions().CoalesceWindowUs, "no coalescing window by default");
            RelayOptions tooLong = LoopbackOptions();
            tooLong.CoalesceWindowUs = 5001;
            RelayException e = Assert.Throws<RelayException>(() => Relay.Start(tooLong), "window too long");
            Assert.Equal(RelayStatus.InvalidArgument, e.Status, "status of a window too long");
            Assert.Contains(e.NativeMessage, "coalesce_window is 5001 us; it must be 0 to 5000 us", "native message names the field and its range");

            RelayOptions options = LoopbackOptions();
            options.CoalesceWindowUs = 2000;
            RelayGuid guid = RelayGuid.NewRandom();
            using (Relay relay = Relay.Start(options))
            using (Peer a = new Peer(relay.Port))
            using (Peer b = new Peer(relay.Port))
            {
                a.Send(Peer.Handshake(guid));
                NextEvent(relay, RelayEventKind.ChannelAllocated);
                b.Send(Peer.Handshake(guid));
                NextEvent(relay, RelayEventKind.ChannelEstablished);
                a.Receive(relay);
                const int count = 20;
                for (int i = 0; i < count; i++)
                {
                    a.Send(Encoding.UTF8.GetBytes("datagram " + i));
                }
                for (int i = 0; i < count; i++)
                {
                    Assert.Equal("datagram " + i, Encoding.UTF8.GetString(b.Receive(relay)), "A -> B in order");
                }
                Assert.Equal((ulong)count, relay.Stats.DatagramsOut - 1, "every datagram relayed");
            }
        }

        private static void IdleChannelExpires()
        {
            RelayOptions options = LoopbackOptions();
            options.InactivityTimeoutMs = 150;
            RelayGuid guid = RelayGuid.NewRandom();
            using (Relay relay = Relay.Start(options))
            using (Peer a = new Peer(relay.Port))
            using (Peer b = new Peer(relay.Port))
            {
                a.Send(Peer.Handshake(guid));
                NextEvent(relay, RelayEventKind.ChannelAllocated);
                b.Send(Peer.Handshake(guid));
                NextEvent(relay, RelayEventKind.ChannelEstablished);
                RelayEvent closed = NextEvent(relay, RelayEventKind.ChannelClosed);
                Assert.Equal(RelayCloseReason.Expired, closed.CloseReason, "close reason");
                Assert.Equal(guid, closed.Guid, "closed GUID");
                Assert.Equal(1UL, closed.Counters.DatagramsBToA, "B's handshake was relayed");
                Assert.True(closed.LifetimeMs >= 150, "lifetime >= the timeout, got " + closed.LifetimeMs);
                Assert.Equal(0UL, relay.Stats.ChannelsOpen, "no channel left open");
            }
        }

        private static void WrongConfigThrows()
        {
            RelayOptions zeroTimeout = LoopbackOptions();
            zeroTimeout.InactivityTimeoutMs = 0;
            RelayException e = Assert.Throws<RelayException>(() => Relay.Start(zeroTimeout), "zero timeout");
            Assert.Equal(RelayStatus.InvalidArgument, e.Status, "status of a zero timeout");
            Assert.Contains(e.NativeMessage, "inactivity_timeout is 0 ms; it must be 1 to 86400000 ms", "native message names the field and its range");
            Assert.Contains(e.Message, "invalid argument", "exception message names the status");

            RelayOptions badAddress = LoopbackOptions();
            badAddress.BindAddress = "not-an-ip";
            e = Assert.Throws<RelayException>(() => Relay.Start(badAddress), "bad bind address");
            Assert.Equal(RelayStatus.InvalidAddress, e.Status, "status of a bad address");
            Assert.Contains(e.NativeMessage, "not-an-ip", "native message quotes the address");

            using (Relay first = Relay.Start(LoopbackOptions()))
            {
                RelayOptions samePort = LoopbackOptions();
                samePort.Port = first.Port;
                e = Assert.Throws<RelayException>(() => Relay.Start(samePort), "port in use");
                Assert.Equal(RelayStatus.AddressInUse, e.Status, "status of a taken port");
                Assert.Contains(e.NativeMessage, "127.0.0.1:" + first.Port, "native message names the address");
            }

            Assert.Throws<ArgumentNullException>(() => Relay.Start(null), "null options");
        }

        private static void DisposeTwiceIsSafe()
        {
            Relay relay = Relay.Start(LoopbackOptions());
            ushort port = relay.Port;
            relay.Dispose();
            relay.Dispose();
            Assert.True(relay.IsDisposed, "IsDisposed");
            // The socket is really closed: the port can be bound again.
            RelayOptions again = LoopbackOptions();
            again.Port = port;
            using (Relay rebound = Relay.Start(again))
            {
                Assert.Equal(port, rebound.Port, "port rebound after dispose");
            }
        }

        private static void CallsAfterDisposeThrow()
        {
            Relay relay = Relay.Start(LoopbackOptions());
            relay.Dispose();
            RelayEvent ev;
            RelayStats stats;
            RelayChannelCounters counters;
            Assert.Throws<ObjectDisposedException>(() => relay.Poll(), "Poll");
            Assert.Throws<ObjectDisposedException>(() => relay.TryGetNextEvent(out ev), "TryGetNextEvent");
            Assert.Throws<ObjectDisposedException>(() => relay.GetStats(out stats), "GetStats");
            Assert.Throws<ObjectDisposedException>(() => { ushort p = relay.Port; }, "Port");
            Assert.Throws<ObjectDisposedException>(() => relay.Drain(), "Drain");
            Assert.Throws<ObjectDisposedException>(() => relay.TryGetChannel(new RelayGuid(1, 2), out counters), "TryGetChannel");
        }

        private static void SizedOutputsCheckTheirSize()
        {
            Assert.True(Native.StatsMinSize <= (int)(uint)Native.RelayStatsSize, "StatsMinSize <= sizeof(RelayStats)");
            Assert.True(Native.EventMinSize <= (int)(uint)Native.RelayEventSize, "EventMinSize <= sizeof(RelayEvent)");
            using (Relay relay = Relay.Start(LoopbackOptions()))
            {
                IntPtr h = relay.Handle.DangerousGetHandle();
                RelayStats stats;
                RelayEvent ev;
                Assert.Equal(RelayStatus.InvalidArgument,
                    Native.relay_get_stats(h, out stats, (UIntPtr)(uint)(Native.StatsMinSize - 1)), "stats size too small");
                Assert.Contains(Utf8.FromNative(Native.relay_last_error()), "out_size", "message names out_size");
                Assert.Equal(RelayStatus.Ok,
                    Native.relay_get_stats(h, out stats, (UIntPtr)(uint)Native.StatsMinSize), "stats at the minimum size");
                relay.Drain();
                Assert.Equal((int)RelayStatus.InvalidArgument,
                    Native.relay_next_event(h, out ev, (UIntPtr)(uint)(Native.EventMinSize - 1)), "event size too small");
                Assert.Equal(1, Native.relay_next_event(h, out ev, (UIntPtr)(uint)Native.EventMinSize), "event at the minimum size");
                Assert.Equal(RelayEventKind.Drained, ev.Kind, "the refused call left the event queued");
            }
        }

        private static void DrainReportsDrained()
        {
            using (Relay relay = Relay.Start(LoopbackOptions()))
            {
                relay.Drain();
                relay.Drain();
                NextEvent(relay, RelayEventKind.Drained);
            }
        }

        private static void LogCallbackFires()
        {
            List<string> records = new List<string>();
            RelayLog.SetHandler((level, message) => records.Add(level + ": " + message), RelayLogLevel.Info);
            try
            {
                using (Relay relay = Relay.Start(LoopbackOptions()))
                {
                    Assert.True(records.Exists(r => r.StartsWith("Info: relay bound to 127.0.0.1:" + relay.Port, StringComparison.Ordinal)),
                        "bind logged, got [" + string.Join(" | ", records.ToArray()) + "]");
                    relay.Drain();
                    Assert.True(records.Exists(r => r.StartsWith("Info: draining", StringComparison.Ordinal)), "drain logged");
                }
                // A throwing handler must not bring the process down.
                RelayLog.SetHandler((level, message) => { throw new InvalidOperationException("handler bug"); }, RelayLogLevel.Info);
                using (Relay relay = Relay.Start(LoopbackOptions()))
                {
                    relay.Poll();
                }
            }
            finally
            {
                RelayLog.SetHandler(null, RelayLogLevel.Off);
            }
            int before = records.Count;
            using (Relay relay = Relay.Start(LoopbackOptions()))
            {
                relay.Drain();
            }
            Assert.Equal(before, records.Count, "no records once the handler is removed");
            Assert.Throws<RelayException>(() => RelayLog.SetHandler((l, m) => { }, (RelayLogLevel)42), "level out of range");
        }

        // What an Editor assembly reload does: the domain that set the log handler goes away
        // while the native library stays loaded. Had the library kept that domain's callback,
        // its next record would call into unloaded code (Mono aborts; Unity Editors crash).
        private static void LogCallbackClearedOnDomainUnload()
        {
            AppDomain reloaded = AppDomain.CreateDomain("udp-relay reload");
            reloaded.DoCallBack(LogFromThisDomain);
            Assert.True((int)reloaded.GetData("records") > 0, "the other domain's handler received records");
            AppDomain.Unload(reloaded);

            // The library logs again. Nothing may reach this domain's handler slot, which is
            // filled here behind the library's back: Mono runs a stale callback in whatever
            // domain is current, so a callback left registered would show up in it.
            List<string> stale = new List<string>();
            FieldInfo slot = typeof(RelayLog).GetField("s_handler", BindingFlags.NonPublic | BindingFlags.Static);
            slot.SetValue(null, (RelayLog.Handler)((level, message) => stale.Add(message)));
            try
            {
                using (Relay relay = Relay.Start(LoopbackOptions()))
                {
                    relay.Drain();
                    relay.Poll();
                }
            }
            finally
            {
                slot.SetValue(null, null);
            }
            Assert.Equal(0, stale.Count, "records through the unloaded domain's callback");
            // And a handler set here afterwards gets its records.
            List<string> records = new List<string>();
            RelayLog.SetHandler((level, message) => records.Add(message), RelayLogLevel.Info);
            try
            {
                using (Relay relay = Relay.Start(LoopbackOptions()))
                {
                    Assert.True(records.Exists(r => r.StartsWith("relay bound to", StringComparison.Ordinal)), "bind logged after the reload");
                }
            }
            finally
            {
                RelayLog.SetHandler(null, RelayLogLevel.Off);
            }
        }

        // Runs in the second domain: sets a handler and makes the library log.
        private static void LogFromThisDomain()
        {
            int records = 0;
            RelayLog.SetHandler((level, message) => records++, RelayLogLevel.Info);
            using (Relay relay = Relay.Start(LoopbackOptions()))
            {
                relay.Poll();
            }
            AppDomain.CurrentDomain.SetData("records", records);
        }

        private static void PollDoesNotAllocate()
        {
            using (Relay relay = Relay.Start(LoopbackOptions()))
            {
                RelayEvent ev;
                RelayStats stats;
                RelayChannelCounters counters;
                RelayGuid guid = new RelayGuid(1, 2);
                byte[] text = new byte[64];
                // Warm up: JIT and P/Invoke stubs allocate once.
                for (int i = 0; i < 100; i++) Tick(relay, out ev, out stats, out counters, guid, text);
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 10000; i++) Tick(relay, out ev, out stats, out counters, guid, text);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.Equal(0L, allocated, "bytes allocated by 10000 ticks");
            }
        }

        private static void Tick(Relay relay, out RelayEvent ev, out RelayStats stats, out RelayChannelCounters counters, RelayGuid guid, byte[] text)
        {
            relay.Poll(0);
            relay.TryGetNextEvent(out ev);
            relay.GetStats(out stats);
            relay.TryGetChannel(guid, out counters);
            ev.PeerA.Format(text, 0, text.Length);
        }

        private static void AbiMismatchIsRefused()
        {
            RelayException e = Assert.Throws<RelayException>(RelayLibrary.EnsureLoaded, "EnsureLoaded");
            Assert.Equal(RelayStatus.VersionMismatch, e.Status, "status");
            Assert.Contains(e.Message, "ABI version 999", "message names the native ABI");
            Assert.Contains(e.Message, "written for ABI version " + Native.AbiVersion, "message names the expected ABI");
            e = Assert.Throws<RelayException>(() => new RelayOptions(), "RelayOptions");
            Assert.Equal(RelayStatus.VersionMismatch, e.Status, "status on first use");
        }

        private static void MissingLibraryIsReported()
        {
            DllNotFoundException e = Assert.Throws<DllNotFoundException>(RelayLibrary.EnsureLoaded, "EnsureLoaded");
            Assert.Contains(e.Message, "udp_relay native library not found", "message");
            Assert.Contains(e.Message, "Plugins/", "message says where it goes");
        }
    }
}
