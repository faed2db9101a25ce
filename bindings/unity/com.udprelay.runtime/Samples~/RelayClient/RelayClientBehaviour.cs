// Joins a udp-relay channel from a Unity game with RelayClient (the library owns the UDP
// socket) and ticks it from Update(): one non-blocking Poll per frame, then every datagram
// the other player sent is logged. Both players enter the same channel GUID (handed out by
// your lobby or matchmaking); disable the component to leave the channel.
using System.Text;
using UdpRelay;
using UnityEngine;

public sealed class RelayClientBehaviour : MonoBehaviour
{
    [Tooltip("The relay as host:port, e.g. relay.example.com:6060 or 127.0.0.1:6060.")]
    [SerializeField] private string relayAddress = "127.0.0.1:6060";

    [Tooltip("The channel GUID both players share (8-4-4-4-12 hex). Empty: make a new one and log it.")]
    [SerializeField] private string channelGuid = "";

    [Tooltip("The relay's secret key as base64; empty for a relay without a key.")]
    [SerializeField] private string secretKeyBase64 = "";

    [Tooltip("Give up when the other player has not joined within this many milliseconds.")]
    [SerializeField] private uint handshakeTimeoutMs = 30000;

    [Tooltip("Once joined, give up after this many milliseconds without hearing from the relay (it restarted, or the other player is gone); 0 never. Longer than the 5 s keep-alive, e.g. 15000.")]
    [SerializeField] private uint peerTimeoutMs = 0;

    private RelayClient _client;
    private RelayClientState _state;
    // Allocated once: RelayClient.TryReceive copies into it, so receiving allocates nothing.
    private readonly byte[] _received = new byte[Native.MaxDatagram];

    /// <summary>The client, or null while the component is disabled.</summary>
    public RelayClient Client { get { return _client; } }

    /// <summary>Whether the other player has joined and datagrams flow.</summary>
    public bool IsEstablished { get { return _client != null && _state == RelayClientState.Established; } }

    /// <summary>Sends one datagram to the other player once established; false if the
    /// channel is not up yet or the socket's send buffer is full this frame.</summary>
    public bool Send(byte[] buffer, int offset, int count)
    {
        return IsEstablished && _client.Send(buffer, offset, count);
    }

    private void OnEnable()
    {
        try
        {
            RelayGuid guid;
            if (string.IsNullOrEmpty(channelGuid))
            {
                guid = RelayGuid.NewRandom();
                Debug.Log("udp-relay: new channel " + guid + ": give this GUID to the other player");
            }
            else
            {
                guid = RelayGuid.Parse(channelGuid);
            }
            RelayClientOptions options = new RelayClientOptions();
            options.RelayAddress = relayAddress;
            options.Guid = guid;
            options.HandshakeTimeoutMs = handshakeTimeoutMs;
            options.PeerTimeoutMs = peerTimeoutMs;
            if (!string.IsNullOrEmpty(secretKeyBase64)) options.SecretKey = System.Convert.FromBase64String(secretKeyBase64);
            _client = RelayClient.Connect(options);
            _state = _client.State;
            _client.StateChanged += OnStateChanged;
            Debug.Log("udp-relay: joining channel " + guid + " through " + relayAddress + " from UDP port " + _client.LocalPort);
        }
        catch (System.Exception e)
        {
            // RelayException (bad address, socket error) or FormatException (GUID, key).
            Debug.LogError("udp-relay: cannot join: " + e.Message);
            enabled = false;
        }
    }

    private void Update()
    {
        if (_client == null) return;
        try
        {
            _client.Poll(0); // never blocks the frame; retries handshakes, sends keep-alives
        }
        catch (RelayException e)
        {
            Debug.LogError("udp-relay: socket error: " + e.NativeMessage);
            enabled = false;
            return;
        }
        if (_client == null) return; // OnStateChanged gave up

        int length;
        while (_client.TryReceive(_received, 0, _received.Length, out length))
        {
            Debug.Log("udp-relay: received " + length + " bytes: " +
                      Encoding.UTF8.GetString(_received, 0, length < 64 ? length : 64));
        }
    }

    // Raised by Poll, on this thread, whenever the client's state moved.
    private void OnStateChanged(RelayClient client, RelayClientState state)
    {
        _state = state;
        Debug.Log("udp-relay: " + state);
        if (state == RelayClientState.Established)
        {
            byte[] hello = Encoding.UTF8.GetBytes("hello from UDP port " + client.LocalPort);
            Send(hello, 0, hello.Length);
        }
        else if (state == RelayClientState.TimedOut || state == RelayClientState.Lost)
        {
            // TimedOut: the other player never showed up (or the key/address is wrong).
            // Lost: the channel went silent (relay restarted, other player gone):
            // re-enable the component to join again with the same GUID.
            Debug.LogError("udp-relay: " + client.Failure.NativeMessage);
            enabled = false; // OnDisable disposes the client
        }
    }

    private void OnDisable()
    {
        if (_client != null)
        {
            _client.Dispose(); // closes the socket; the relay expires the channel later
            _client = null;
        }
    }
}
