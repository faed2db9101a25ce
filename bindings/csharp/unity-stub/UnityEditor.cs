// The UnityEditor type the Runtime sources use when compiled for the Editor (UNITY_EDITOR),
// so tests/csharp.rs can compile them as the Editor would.
namespace UnityEditor
{
    public static class AssemblyReloadEvents
    {
        public delegate void AssemblyReloadCallback();

        public static event AssemblyReloadCallback beforeAssemblyReload;

        // What the Editor does before it unloads the scripting domain.
        public static void RaiseBeforeAssemblyReload()
        {
            AssemblyReloadCallback callback = beforeAssemblyReload;
            if (callback != null) callback();
        }
    }
}
