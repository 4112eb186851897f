using System.Runtime.CompilerServices;

namespace Edge.Configuration.Validation;

/// <summary>
/// The compiled validation policies of each validated <see cref="EdgeSection"/>: schemas are read and compiled once per
/// config generation, when the candidate is validated, and dropped with the section it belongs to.
/// </summary>
internal sealed class ValidationPolicyCache : IEdgeExternalContent
{
    private readonly ConditionalWeakTable<EdgeSection, IReadOnlyDictionary<string, ValidationPolicy>> _policies = new();

    public void Set(EdgeSection edge, IReadOnlyDictionary<string, ValidationPolicy> policies) => _policies.AddOrUpdate(edge, policies);

    /// <summary>The SHA-256 of every schema the section's policies were compiled from, by policy name.</summary>
    public string Fingerprint(EdgeSection edge) =>
        _policies.TryGetValue(edge, out var policies)
            ? string.Join(",", policies.OrderBy(p => p.Key, StringComparer.Ordinal).Where(p => p.Value.Schema is not null).Select(p => p.Key + "=" + p.Value.Schema!.ContentHash))
            : "";

    public IEnumerable<string> Files(EdgeSection edge) =>
        _policies.TryGetValue(edge, out var policies)
            ? policies.Values.Where(p => p.Schema is not null).Select(p => p.Schema!.Path).ToArray()
            : [];

    public bool TryGet(EdgeSection edge, string name, out ValidationPolicy? policy)
    {
        policy = null;
        return _policies.TryGetValue(edge, out var policies) && policies.TryGetValue(name, out policy);
    }
}
