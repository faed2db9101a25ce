// The few UnityEngine types the package's samples use, so tests/csharp.rs can compile the
// Runtime sources with Unity's defines (UNITY_5_3_OR_NEWER, UNITY_IOS) and the samples on
// Mono, and run them from a driver (sample-driver/). Debug writes each message to stdout
// with its level, so the driver can see what a sample logged; the rest is declarations.
using System;

namespace UnityEngine
{
    public class Object
    {
    }

    public class Component : Object
    {
    }

    public class Behaviour : Component
    {
        public bool enabled { get; set; }
    }

    public class MonoBehaviour : Behaviour
    {
    }

    public static class Debug
    {
        public static void Log(object message) { Console.WriteLine("[Log] " + message); }
        public static void LogWarning(object message) { Console.WriteLine("[Warning] " + message); }
        public static void LogError(object message) { Console.WriteLine("[Error] " + message); }
    }

    [AttributeUsage(AttributeTargets.Field)]
    public sealed class SerializeField : Attribute
    {
    }

    [AttributeUsage(AttributeTargets.Field)]
    public sealed class TooltipAttribute : Attribute
    {
        public TooltipAttribute(string tooltip) { }
    }
}

namespace AOT
{
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type type) { }
    }
}
