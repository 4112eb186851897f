using Edge.Configuration.RateLimiting;

namespace Edge.Configuration.ThreatProtection;

/// <summary>A validated ban rule, as the edge runs it.</summary>
internal sealed class ThreatRule
{
    private readonly bool[] _on;

    private ThreatRule(string name, bool[] on, RateLimitKeyTemplate key, ThreatRuleOptions options)
    {
        Name = name;
        _on = on;
        Key = key;
        Threshold = options.Threshold;
        Window = options.Window;
        BanFor = options.BanFor;
    }

    public string Name { get; }

    public RateLimitKeyTemplate Key { get; }

    public int Threshold { get; }

    public TimeSpan Window { get; }

    public TimeSpan BanFor { get; }

    public bool Counts(ThreatEvent threatEvent) => _on[(int)threatEvent];

    public static ThreatRule? TryCreate(string name, ThreatRuleOptions? options, ConfigErrorList errors)
    {
        var location = $"Edge:ThreatProtection:Rules:{name}";
        if (options is null)
        {
            errors.Add(location, "the rule is null");
            return null;
        }

        var valid = true;
        var on = new bool[Enum.GetValues<ThreatEvent>().Length];
        if (options.On is not { Count: > 0 })
        {
            errors.Add(location + ":On", "name at least one event: " + string.Join(", ", Enum.GetNames<ThreatEvent>()));
            valid = false;
        }
        else
        {
            foreach (var eventName in options.On)
            {
                // Exact names only: a number or a differently spelt name must not silently count something else.
                if (!Enum.TryParse<ThreatEvent>(eventName, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed) || int.TryParse(eventName, out _))
                {
                    errors.Add(location + ":On", $"unknown event '{eventName}'; use " + string.Join(", ", Enum.GetNames<ThreatEvent>()));
                    valid = false;
                    continue;
                }

                on[(int)parsed] = true;
            }
        }

        var key = RateLimitKeyTemplate.TryParse(options.Key, out var keyError);
        if (key is null)
        {
            errors.Add(location + ":Key", keyError!);
            valid = false;
        }
        else if (key.UsesBody)
        {
            errors.Add(location + ":Key", "{body:…} cannot name a ban: bans are checked before any body is read");
            valid = false;
        }

        if (options.Threshold <= 0)
        {
            errors.Add(location + ":Threshold", "must be a positive number of events");
            valid = false;
        }

        if (options.Window <= TimeSpan.Zero)
        {
            errors.Add(location + ":Window", "must be positive");
            valid = false;
        }

        if (options.BanFor <= TimeSpan.Zero)
        {
            errors.Add(location + ":BanFor", "must be positive");
            valid = false;
        }

        return valid ? new ThreatRule(name, on, key!, options) : null;
    }
}
