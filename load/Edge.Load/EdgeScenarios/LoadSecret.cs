using Edge.Configuration;

namespace Edge.Load.EdgeScenarios;

/// <summary>The edge's own <c>env:NAME</c> / <c>file:/path</c> resolution, so the tool accepts exactly what proxy.json accepts.</summary>
internal static class LoadSecret
{
    public static string Resolve(string reference, string purpose) =>
        SecretReference.TryResolve(reference, out var value, out var error) ? value : throw new InvalidOperationException($"{purpose}: {error}.");
}
