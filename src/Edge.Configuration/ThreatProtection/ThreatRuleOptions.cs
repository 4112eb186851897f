using System.Text.Json.Serialization;

namespace Edge.Configuration.ThreatProtection;

/// <summary>
/// One ban rule (<c>Edge:ThreatProtection:Rules:{name}</c>): when a key counts <see cref="Threshold"/> of the
/// <see cref="On"/> events within <see cref="Window"/>, every request with that key is refused for <see cref="BanFor"/>.
/// </summary>
internal sealed record ThreatRuleOptions
{
    /// <summary>One event name or an array of them (<see cref="ThreatEvent"/>).</summary>
    [JsonConverter(typeof(StringOrArrayConverter))]
    public IReadOnlyList<string> On { get; init; } = [];

    /// <summary>A key template of the rate-limit vocabulary without <c>{body:…}</c>; the rendered text is the ban key.</summary>
    public string Key { get; init; } = "{ip}";

    public int Threshold { get; init; }

    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(1);

    public TimeSpan BanFor { get; init; } = TimeSpan.FromMinutes(10);
}
