using System.Globalization;

namespace Edge.Load.Scenarios;

/// <summary>Passed once to a scenario's init before its warm-up starts.</summary>
public sealed class ScenarioInitContext
{
    private readonly ISet<string>? _read;

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

    public string GetParameter(string name, string defaultValue)
    {
        _read?.Add(name);
        return Parameters.TryGetValue(name, out var value) && value.Length > 0 ? value : defaultValue;
    }

    public int GetParameter(string name, int defaultValue)
    {
        var text = GetParameter(name, "");
        if (text.Length == 0)
        {
            return defaultValue;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"scenario {ScenarioName}: parameter {name}='{text}' is not an integer.");
    }

    public Uri RequireTarget() =>
        Target ?? throw new InvalidOperationException($"Scenario '{ScenarioName}' needs a target (--target http://host:port).");
}
