using Edge.Configuration.RateLimiting;

namespace Edge.Configuration.ThreatProtection;

/// <summary>A validated ban rule, as the edge runs it.</summary>
internal sealed class ThreatRule
{
    /// <summary>The longest <c>Window</c> and <c>BanFor</c>, as for a ban made on the management port.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(365);

    // Counts expire and bans end in whole milliseconds (a shorter window expired its Redis count at once).
    private static readonly TimeSpan MinDuration = TimeSpan.FromMilliseconds(1);

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
                if (!EnumName.TryParse<ThreatEvent>(eventName, out var parsed))
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

        // Bounded like a manual ban's 'for': the edge counts and bans in Unix milliseconds, and an end past the year 9999
        // threw on every counted refusal (an empty 500, a 404 or 429 turned into a 502, with a record saying otherwise).
        valid &= CheckDuration(options.Window, location + ":Window", errors);
        valid &= CheckDuration(options.BanFor, location + ":BanFor", errors);

        return valid ? new ThreatRule(name, on, key!, options) : null;
    }

    private static bool CheckDuration(TimeSpan value, string location, ConfigErrorList errors)
    {
        if (value >= MinDuration && value <= MaxDuration)
        {
            return true;
        }

        errors.Add(location, $"must be positive, between 00:00:00.001 and 365.00:00:00 (was {value})");
        return false;
    }
}
