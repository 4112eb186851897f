using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// The registered step factories, looked up by transform key. The steps a route may name are the validators'
/// (<see cref="EdgeStepValidators"/>); a config reaches the factories only after it passed them.
/// </summary>
internal sealed class EdgeStepRegistry(IEnumerable<IEdgeStepFactory> factories, EdgeStepValidators validators)
{
    private readonly FrozenDictionary<string, IEdgeStepFactory> _factories =
        factories.ToFrozenDictionary(f => f.Name, StringComparer.OrdinalIgnoreCase);

    public bool TryGet(string name, [NotNullWhen(true)] out IEdgeStepFactory? factory) => _factories.TryGetValue(name, out factory);

    public string UnknownStepMessage(string name) => validators.UnknownStepMessage(name);

    /// <summary>An entry is an edge step when its first key starts with "Edge" (YARP keeps the JSON key order).</summary>
    public static bool TryGetStepName(IReadOnlyDictionary<string, string> values, [NotNullWhen(true)] out string? name) =>
        EdgeStepValidators.TryGetStepName(values, out name);
}
