namespace Edge.Configuration;

/// <summary>One precise problem with proxy.json: where it is (route id and field) and what is wrong.</summary>
public sealed record ConfigError(string Location, string Message, bool IsWarning = false)
{
    public override string ToString() => $"{(IsWarning ? "warning" : "error")} at {Location}: {Message}";
}
