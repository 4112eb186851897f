namespace Edge.Configuration;

/// <summary>Thrown at startup when proxy.json is invalid, so the host fails fast with every precise message.</summary>
public sealed class EdgeConfigException(string path, IReadOnlyList<ConfigError> errors)
    : Exception($"proxy.json '{path}' is invalid:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", errors))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
