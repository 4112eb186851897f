using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>What a step factory may look at while validating: the route, the step's position and the candidate config.</summary>
public sealed class EdgeStepValidationContext(RouteConfig route, int transformIndex, IReadOnlyList<string> precedingSteps, EdgeSection edge, ConfigErrorList errors)
{
    public RouteConfig Route { get; } = route;

    /// <summary>Index of this entry in the route's Transforms list.</summary>
    public int TransformIndex { get; } = transformIndex;

    /// <summary>Names of the edge steps listed before this one on the route, in order.</summary>
    public IReadOnlyList<string> PrecedingSteps { get; } = precedingSteps;

    public EdgeSection Edge { get; } = edge;

    public ConfigErrorList Errors { get; } = errors;

    public string Location(string? field = null) =>
        $"ReverseProxy:Routes:{Route.RouteId}:Transforms[{TransformIndex}]" + (field is null ? "" : ":" + field);

    public void AddError(string? field, string message) => Errors.Add(Location(field), message);

    public void AddWarning(string? field, string message) => Errors.AddWarning(Location(field), message);

    /// <summary>Reports options this step does not understand: a typo must not silently disable a check.</summary>
    public void RejectUnknownKeys(IReadOnlyDictionary<string, string> values, string stepName, params string[] knownKeys)
    {
        foreach (var key in values.Keys)
        {
            if (!string.Equals(key, stepName, StringComparison.OrdinalIgnoreCase) && !knownKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                AddError(key, knownKeys.Length == 0 ? $"unknown option '{key}' for {stepName}; known options: (none)"
                    : ProxyJsonReader.Closest(knownKeys, key) is { } closest
                    ? $"unknown option '{key}' for {stepName}; did you mean '{closest}'? (known options: {string.Join(", ", knownKeys)})"
                    : $"unknown option '{key}' for {stepName}; known options: {string.Join(", ", knownKeys)}");
            }
        }
    }
}
