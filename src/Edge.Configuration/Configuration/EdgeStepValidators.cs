using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace Edge.Configuration;

/// <summary>The registered step validators, looked up by transform key; the set of steps a route may name.</summary>
public sealed class EdgeStepValidators(IEnumerable<IEdgeStepValidator> validators)
{
    private const string Prefix = "Edge";

    private readonly FrozenDictionary<string, IEdgeStepValidator> _validators =
        validators.ToFrozenDictionary(v => v.Name, StringComparer.OrdinalIgnoreCase);

    public IEnumerable<string> Names => _validators.Keys.Order(StringComparer.Ordinal);

    public bool TryGet(string name, [NotNullWhen(true)] out IEdgeStepValidator? validator) => _validators.TryGetValue(name, out validator);

    /// <summary>With the closest step, as an unknown property names the closest one: a misspelt step is the usual cause.</summary>
    public string UnknownStepMessage(string name) =>
        ProxyJsonReader.Closest(Names, name) is { } closest
            ? $"unknown edge step '{name}'; did you mean '{closest}'? (known steps: {string.Join(", ", Names)})"
            : $"unknown edge step '{name}'; known steps: {string.Join(", ", Names)}";

    /// <summary>An entry is an edge step when its first key starts with "Edge" (YARP keeps the JSON key order).</summary>
    public static bool TryGetStepName(IReadOnlyDictionary<string, string> values, [NotNullWhen(true)] out string? name)
    {
        foreach (var key in values.Keys)
        {
            if (key.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                name = key;
                return true;
            }

            break;
        }

        name = null;
        return false;
    }
}
