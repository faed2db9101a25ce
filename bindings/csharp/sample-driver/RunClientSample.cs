// Runs the package's RelayClient sample (Samples~/RelayClient) outside Unity, the way the
// engine would: two RelayClientBehaviour components join one channel through a C# Relay on
// 127.0.0.1, with OnEnable, Update every "frame" and OnDisable called by reflection. The
// samples log through the unity-stub Debug, which prints to stdout; this driver exits 0 once
// each component has logged the other's hello, 1 otherwise. Run by tests/csharp.rs.
using System;
using System.Diagnostics;
using System.Reflection;
using UdpRelay;

internal static class RunClientSample
{
    private const BindingFlags Private = BindingFlags.Instance | BindingFlags.NonPublic;

    private static int Main()
    {
        RelayOptions relayOptions = new RelayOptions();
        relayOptions.Port = 0;
        relayOptions.BindAddress = "127.0.0.1";
        using (Relay relay = Relay.Start(relayOptions))
        {
            string guid = RelayGuid.NewRandom().ToString();
            RelayClientBehaviour a = Component("127.0.0.1:" + relay.Port, guid);
            RelayClientBehaviour b = Component("127.0.0.1:" + relay.Port, guid);
            Call(a, "OnEnable");
            Call(b, "OnEnable");
            Stopwatch clock = Stopwatch.StartNew();
            int frames = 0;
            while (clock.ElapsedMilliseconds < 5000 && !(a.IsEstablished && b.IsEstablished))
            {
                relay.Poll(1);
                Call(a, "Update");
                Call(b, "Update");
                frames++;
            }
            // A few more frames so the hellos sent on establishment arrive and get logged
            // (the log on stdout is what tests/csharp.rs checks).
            for (int i = 0; i < 50; i++)
            {
                relay.Poll(1);
                Call(a, "Update");
                Call(b, "Update");
            }
            bool established = a.IsEstablished && b.IsEstablished;
            Call(a, "OnDisable");
            Call(b, "OnDisable");
            Console.WriteLine("driver: " + (established ? "both established" : "not established") + " after " + frames + " frames");
            return established && a.Client == null ? 0 : 1;
        }
    }

    private static RelayClientBehaviour Component(string relayAddress, string channelGuid)
    {
        RelayClientBehaviour component = new RelayClientBehaviour();
        component.enabled = true;
        typeof(RelayClientBehaviour).GetField("relayAddress", Private).SetValue(component, relayAddress);
        typeof(RelayClientBehaviour).GetField("channelGuid", Private).SetValue(component, channelGuid);
        return component;
    }

    private static void Call(RelayClientBehaviour component, string message)
    {
        typeof(RelayClientBehaviour).GetMethod(message, Private).Invoke(component, null);
    }
}
