using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace Edge.Proxy.Pipeline;

/// <summary>The registered step factories, looked up by transform key.</summary>
internal sealed class EdgeStepRegistry(IEnumerable<IEdgeStepFactory> factories)
{
    private readonly FrozenDictionary<string, IEdgeStepFactory> _factories =
        factories.ToFrozenDictionary(f => f.Name, StringComparer.OrdinalIgnoreCase);

    public IEnumerable<string> Names => _factories.Keys.Order(StringComparer.Ordinal);

    public bool TryGet(string name, [NotNullWhen(true)] out IEdgeStepFactory? factory) => _factories.TryGetValue(name, out factory);

    public string UnknownStepMessage(string name) =>
        $"unknown edge step '{name}'; known steps: {string.Join(", ", Names)}";

    /// <summary>An entry is an edge step when its first key starts with "Edge" (YARP keeps the JSON key order).</summary>
    public static bool TryGetStepName(IReadOnlyDictionary<string, string> values, [NotNullWhen(true)] out string? name) =>
        EdgeStepValidators.TryGetStepName(values, out name);
}
