// A game peer for the tests: a UdpClient on 127.0.0.1 that speaks the v0.8 handshake.
using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace UdpRelay.Tests
{
    internal sealed class Peer : IDisposable
    {
        private readonly UdpClient _client;
        private readonly IPEndPoint _relay;

        public Peer(ushort relayPort)
        {
            _client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
            _relay = new IPEndPoint(IPAddress.Loopback, relayPort);
        }

        public int Port { get { return ((IPEndPoint)_client.Client.LocalEndPoint).Port; } }

        /// <summary>A v0.8 handshake: magic 0x04B28000, length 0, flags 0, the GUID as 16
        /// big-endian bytes, and a zero mac (the relay has no key).</summary>
        public static byte[] Handshake(RelayGuid guid)
        {
            byte[] datagram = new byte[Native.HandshakeLength];
            datagram[0] = 0x04;
            datagram[1] = 0xB2;
            datagram[2] = 0x80;
            datagram[3] = 0x00;
            guid.WriteBigEndian(datagram, 8);
            return datagram;
        }

        public void Send(byte[] payload)
        {
            _client.Send(payload, payload.Length, _relay);
        }

        /// <summary>Ticks the relay (this test is single-threaded, like a game loop) until a
        /// datagram arrives, and returns it; it must come from the relay.</summary>
        public byte[] Receive(Relay relay)
        {
            Stopwatch clock = Stopwatch.StartNew();
            while (_client.Available == 0)
            {
                if (clock.ElapsedMilliseconds > 3000)
                    throw new TestFailure("peer " + Port + " got nothing from the relay within 3 s");
                relay.Poll(5);
            }
            IPEndPoint from = null;
            byte[] data = _client.Receive(ref from);
            Assert.Equal(_relay.ToString(), from.ToString(), "sender of a relayed datagram");
            return data;
        }

        public void Dispose()
        {
            _client.Close();
        }
    }
}
