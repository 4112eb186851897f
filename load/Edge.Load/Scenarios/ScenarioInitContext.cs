using System.Globalization;

namespace Edge.Load.Scenarios;

/// <summary>Passed once to a scenario's init before its warm-up starts.</summary>
public sealed class ScenarioInitContext
{
    private readonly ISet<string>? _read;
    private readonly SortedDictionary<string, string> _used = new(StringComparer.Ordinal);

    internal ScenarioInitContext(string scenarioName, HttpClient httpClient, Uri? target, IReadOnlyDictionary<string, string> parameters, CancellationToken cancellationToken, ISet<string>? read = null)
    {
        _read = read;
        ScenarioName = scenarioName;
        HttpClient = httpClient;
        Target = target;
        Parameters = parameters;
        CancellationToken = cancellationToken;
    }

    public string ScenarioName { get; }

    /// <summary>The run's shared, pooled client; scenarios should use it rather than creating their own.</summary>
    public HttpClient HttpClient { get; }

    public Uri? Target { get; }

    public IReadOnlyDictionary<string, string> Parameters { get; }

    public CancellationToken CancellationToken { get; }

    /// <summary>
    /// Every parameter the init read, with the value it got ("name=value", "(default)" when not given), in name order:
    /// the reports print them, so a run says which route, tenant and mix it loaded. Secrets are only ever references.
    /// </summary>
    public IReadOnlyList<string> UsedParameters => [.. _used.Select(static p => p.Key + "=" + p.Value)];

    public string GetParameter(string name, string defaultValue)
    {
        _read?.Add(name);
        var given = Parameters.TryGetValue(name, out var value) && value.Length > 0;
        _used[name] = given ? value! : defaultValue + " (default)";
        return given ? value! : defaultValue;
    }

    public int GetParameter(string name, int defaultValue)
    {
        var text = GetParameter(name, "");
        if (text.Length == 0)
        {
            _used[name] = defaultValue.ToString(CultureInfo.InvariantCulture) + " (default)";
            return defaultValue;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"scenario {ScenarioName}: parameter {name}='{text}' is not an integer.");
    }

    /// <summary>
    /// A request path: it must start with exactly one '/'. Resolved against the target, "//other/x" or "http://other/x"
    /// sent the load to another host than the report's target, and "orders" silently became "/orders".
    /// </summary>
    public string GetPath(string name, string defaultValue)
    {
        var path = GetParameter(name, defaultValue);
        return path.StartsWith('/') && !path.StartsWith("//", StringComparison.Ordinal)
            ? path
            : throw new FormatException($"scenario {ScenarioName}: parameter {name}='{path}' is not a path on the target; give one starting with a single '/', e.g. {name}=/orders/1.");
    }

    public Uri RequireTarget() =>
        Target ?? throw new InvalidOperationException($"Scenario '{ScenarioName}' needs a target (--target http://host:port).");
}
