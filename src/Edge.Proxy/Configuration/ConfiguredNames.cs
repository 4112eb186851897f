using System.Collections.Concurrent;

namespace Edge.Proxy.Configuration;

/// <summary>
/// State kept per name an applied config gives (a policy's limiter, a rule's counts) across reloads: what a config no
/// longer names is dropped when it is applied, else every name ever removed or renamed kept its state for the life of
/// the process. Names compare exactly, as the state is kept by them.
/// </summary>
internal static class ConfiguredNames
{
    public static void KeepOnly<T>(ConcurrentDictionary<string, T> byName, IReadOnlySet<string> names)
    {
        foreach (var name in byName.Keys)
        {
            if (!names.Contains(name))
            {
                byName.TryRemove(name, out _);
            }
        }
    }
}
