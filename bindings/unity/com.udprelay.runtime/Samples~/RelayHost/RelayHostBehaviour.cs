// Runs an embedded udp-relay inside a Unity player or dedicated server and ticks it from
// Update(): one non-blocking Poll per frame, then every queued event. Add it to any
// GameObject; disable the component to stop the relay.
using UdpRelay;
using UnityEngine;

public sealed class RelayHostBehaviour : MonoBehaviour
{
    [Tooltip("UDP port to listen on; 0 picks a free one.")]
    [SerializeField] private ushort port = 6060;

    [Tooltip("IP address to bind, e.g. 0.0.0.0 or 127.0.0.1. Empty: all IPv4 and IPv6 addresses.")]
    [SerializeField] private string bindAddress = "";

    [Tooltip("A channel closes after this many milliseconds without traffic.")]
    [SerializeField] private uint inactivityTimeoutMs = 30000;

    [Tooltip("Forward the library's own log to the Unity console.")]
    [SerializeField] private RelayLogLevel libraryLogLevel = RelayLogLevel.Info;

    private Relay _relay;

    /// <summary>The running relay, or null while the component is disabled.</summary>
    public Relay Relay { get { return _relay; } }

    private void OnEnable()
    {
        try
        {
            RelayLog.SetHandler(OnLibraryLog, libraryLogLevel);
            RelayOptions options = new RelayOptions();
            options.Port = port;
            options.BindAddress = string.IsNullOrEmpty(bindAddress) ? null : bindAddress;
            options.InactivityTimeoutMs = inactivityTimeoutMs;
            _relay = Relay.Start(options);
            Debug.Log("udp-relay " + RelayLibrary.Version + " listening on UDP port " + _relay.Port);
        }
        catch (RelayException e)
        {
            Debug.LogError("udp-relay did not start: " + e.Message);
            enabled = false;
        }
    }

    private void Update()
    {
        if (_relay == null) return;
        _relay.Poll(0); // never blocks the frame
        RelayEvent ev;
        while (_relay.TryGetNextEvent(out ev))
        {
            switch (ev.Kind)
            {
                case RelayEventKind.ChannelAllocated:
                    Debug.Log("channel " + ev.Guid + " allocated by " + ev.PeerA);
                    break;
                case RelayEventKind.ChannelEstablished:
                    Debug.Log("channel " + ev.Guid + " established: " + ev.PeerA + " <-> " + ev.PeerB);
                    break;
                case RelayEventKind.ChannelClosed:
                    Debug.Log("channel " + ev.Guid + " closed (" + ev.CloseReason + ") after " + ev.LifetimeMs +
                              " ms, " + ev.Counters.DatagramsAToB + " + " + ev.Counters.DatagramsBToA + " datagrams");
                    break;
                case RelayEventKind.Drained:
                    Debug.Log("relay drained: no channel left open");
                    break;
            }
        }
    }

    private void OnDisable()
    {
        if (_relay != null)
        {
            RelayStats stats = _relay.Stats;
            Debug.Log("udp-relay stopping: " + stats.DatagramsIn + " datagrams in, " + stats.DatagramsOut + " out");
            _relay.Dispose();
            _relay = null;
        }
        RelayLog.SetHandler(null, RelayLogLevel.Off);
    }

    // Called on the thread that ticks the relay (here the main thread), so Debug.Log is safe.
    private static void OnLibraryLog(RelayLogLevel level, string message)
    {
        if (level == RelayLogLevel.Error) Debug.LogError("[udp-relay] " + message);
        else if (level == RelayLogLevel.Warn) Debug.LogWarning("[udp-relay] " + message);
        else Debug.Log("[udp-relay] " + message);
    }
}
