using System.Buffers;

namespace Edge.Configuration.RateLimiting;

/// <summary>
/// A validated, compiled policy. A record so that limiters can be reused across config reloads exactly when the
/// settings that shape their state are unchanged.
/// </summary>
internal sealed record RateLimitPolicy
{
    public const int MaxLimit = 10_000_000;

    private static readonly SearchValues<char> NameChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    private static readonly SearchValues<char> PrefixChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-");

    public required string Name { get; init; }

    public required RateLimitAlgorithm Algorithm { get; init; }

    public required int Limit { get; init; }

    public required TimeSpan Window { get; init; }

    public required int Burst { get; init; }

    public required RateLimitKeyTemplate Key { get; init; }

    public required RateLimitMode Mode { get; init; }

    public required RedisOutageMode OnRedisUnavailable { get; init; }

    public required double LocalShare { get; init; }

    public required RateLimitHeaderStyle Headers { get; init; }

    public required RateLimitResetFormat ResetFormat { get; init; }

    public required TimeSpan DecisionDeadline { get; init; }

    public required int LeaseMaxBatch { get; init; }

    public required TimeSpan LeaseDuration { get; init; }

    public required string KeyPrefix { get; init; }

    /// <summary>Time for one token to come back, as a fraction of ticks.</summary>
    public double EmissionIntervalTicks => (double)Window.Ticks / Limit;

    /// <summary>The policy the in-process fallback applies while Redis is unavailable (Local mode).</summary>
    public RateLimitPolicy LocalShareOf() => this with
    {
        Limit = Math.Max(1, (int)Math.Ceiling(Limit * LocalShare)),
        Burst = Math.Max(1, (int)Math.Ceiling(Burst * LocalShare)),
    };

    /// <summary>Parses and validates one policy; every problem is reported with its field.</summary>
    public static RateLimitPolicy? TryCreate(string name, RateLimitPolicyOptions options, ConfigErrorList errors)
    {
        var location = $"Edge:RateLimits:{name}";
        var before = errors.Errors.Count();
        if (name.Length is 0 or > 64 || name.AsSpan().ContainsAnyExcept(NameChars))
        {
            errors.Add(location, "a policy name is 1-64 characters from [A-Za-z0-9._-] (it becomes part of Redis keys)");
        }

        var algorithm = ParseEnum<RateLimitAlgorithm>(options.Algorithm, location + ":Algorithm", errors);
        var mode = ParseEnum<RateLimitMode>(options.Mode, location + ":Mode", errors);
        var outage = ParseEnum<RedisOutageMode>(options.OnRedisUnavailable, location + ":OnRedisUnavailable", errors);
        var headers = ParseEnum<RateLimitHeaderStyle>(options.Headers, location + ":Headers", errors);
        var reset = ParseEnum<RateLimitResetFormat>(options.ResetFormat, location + ":ResetFormat", errors);

        if (options.Limit is null)
        {
            errors.Add(location + ":Limit", $"is required: the requests allowed per Window, 1 to {MaxLimit}");
        }
        else if (options.Limit is < 1 or > MaxLimit)
        {
            errors.Add(location + ":Limit", $"must be between 1 and {MaxLimit} (was {options.Limit})");
        }

        var limit = options.Limit ?? 0;

        if (options.Window < TimeSpan.FromMilliseconds(1) || options.Window > TimeSpan.FromDays(1))
        {
            errors.Add(location + ":Window", $"must be between 00:00:00.001 and 1.00:00:00 (was {options.Window})");
        }
        else if (limit >= 1 && options.Window.Ticks / (double)limit < 10)
        {
            errors.Add(location + ":Limit", "Limit per Window is finer than one request per microsecond; use a longer Window");
        }

        var burst = options.Burst ?? limit;
        if (options.Burst is not null && burst is < 1 or > MaxLimit)
        {
            errors.Add(location + ":Burst", $"must be between 1 and {MaxLimit} (was {burst})");
        }

        if (double.IsNaN(options.LocalShare) || options.LocalShare is <= 0 or > 1)
        {
            errors.Add(location + ":LocalShare", $"must be greater than 0 and at most 1 (was {options.LocalShare})");
        }

        if (options.DecisionDeadline < TimeSpan.FromMilliseconds(1) || options.DecisionDeadline > TimeSpan.FromSeconds(10))
        {
            errors.Add(location + ":DecisionDeadline", $"must be between 00:00:00.001 and 00:00:10 (was {options.DecisionDeadline})");
        }

        if (options.LeaseMaxBatch is { } batch && (batch < 1 || batch > burst))
        {
            errors.Add(location + ":LeaseMaxBatch", $"must be between 1 and Burst ({burst}) (was {batch})");
        }

        if (options.LeaseDuration < TimeSpan.FromMilliseconds(10) || options.LeaseDuration > TimeSpan.FromMinutes(1))
        {
            errors.Add(location + ":LeaseDuration", $"must be between 00:00:00.010 and 00:01:00 (was {options.LeaseDuration})");
        }

        if (string.IsNullOrEmpty(options.KeyPrefix) || options.KeyPrefix.Length > 64 || options.KeyPrefix.AsSpan().ContainsAnyExcept(PrefixChars))
        {
            errors.Add(location + ":KeyPrefix", "must be 1-64 characters from [A-Za-z0-9._:-] (no braces: the partition is the only hash tag)");
        }

        var key = RateLimitKeyTemplate.TryParse(options.Key, out var keyError);
        if (key is null)
        {
            errors.Add(location + ":Key", keyError!);
        }

        if (errors.Errors.Count() != before || key is null)
        {
            return null;
        }

        return new RateLimitPolicy
        {
            Name = name,
            Algorithm = algorithm,
            Limit = limit,
            Window = options.Window,
            Burst = burst,
            Key = key,
            Mode = mode,
            OnRedisUnavailable = outage,
            LocalShare = options.LocalShare,
            Headers = headers,
            ResetFormat = reset,
            DecisionDeadline = options.DecisionDeadline,
            LeaseMaxBatch = options.LeaseMaxBatch ?? Math.Clamp(burst / 10, 1, 100),
            LeaseDuration = options.LeaseDuration,
            KeyPrefix = options.KeyPrefix,
        };
    }

    private static T ParseEnum<T>(string? text, string location, ConfigErrorList errors)
        where T : struct, Enum
    {
        if (EnumName.TryParse<T>(text, out var value))
        {
            return value;
        }

        errors.Add(location, $"'{text}' is not valid; use {string.Join(", ", Enum.GetNames<T>())}");
        return default;
    }
}
