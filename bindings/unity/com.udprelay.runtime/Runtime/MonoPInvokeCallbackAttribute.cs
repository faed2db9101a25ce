// IL2CPP compiles a managed method that native code calls back only if it is static and
// carries an attribute named MonoPInvokeCallbackAttribute. Unity provides
// AOT.MonoPInvokeCallbackAttribute; elsewhere (Mono, .NET) this stand-in keeps the same
// source compiling.
#if !UNITY_5_3_OR_NEWER
using System;

namespace AOT
{
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type delegateType)
        {
            DelegateType = delegateType;
        }

        public Type DelegateType { get; private set; }
    }
}
#endif
