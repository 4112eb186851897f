using Edge.Configuration.RateLimiting;

namespace Edge.Configuration.Tests.RateLimiting;

public sealed class RateLimitPolicyTests
{
    [Fact]
    public void TryCreate_ReferenceSample_CompilesWithDefaults()
    {
        var errors = new ConfigErrorList();

        var policy = RateLimitPolicy.TryCreate("per-sender", new RateLimitPolicyOptions { Limit = 10, Window = TimeSpan.FromMinutes(1), Key = "{tenant}:{body:/sender/id}" }, errors);

        Assert.False(errors.HasErrors, string.Join("; ", errors.Items));
        Assert.NotNull(policy);
        Assert.Equal(RateLimitAlgorithm.TokenBucket, policy.Algorithm);
        Assert.Equal(10, policy.Burst);
        Assert.Equal(RateLimitMode.Strict, policy.Mode);
        Assert.Equal(RedisOutageMode.Local, policy.OnRedisUnavailable);
        Assert.Equal(RateLimitHeaderStyle.Legacy, policy.Headers);
        Assert.Equal(RateLimitResetFormat.EpochSeconds, policy.ResetFormat);
        Assert.Equal(TimeSpan.FromMilliseconds(100), policy.DecisionDeadline);
        Assert.True(policy.Key.UsesBody);
    }

    [Theory]
    [InlineData("Algorithm", "Leaky", "'Leaky' is not valid; use TokenBucket, Gcra")]
    [InlineData("Mode", "Fast", "'Fast' is not valid; use Strict, Lease")]
    [InlineData("OnRedisUnavailable", "Maybe", "'Maybe' is not valid; use Local, Open, Closed")]
    [InlineData("Headers", "All", "'All' is not valid; use Legacy, Draft, Both, None")]
    [InlineData("ResetFormat", "1", "'1' is not valid; use EpochSeconds, Delta")]
    [InlineData("Limit", "0", "must be between 1 and 10000000 (was 0)")]
    [InlineData("Burst", "-1", "must be between 1 and 10000000 (was -1)")]
    [InlineData("Window", "0", "must be between 00:00:00.001 and 1.00:00:00 (was 00:00:00)")]
    [InlineData("LocalShare", "1.5", "must be greater than 0 and at most 1 (was 1.5)")]
    [InlineData("DecisionDeadline", "0", "must be between 00:00:00.001 and 00:00:10 (was 00:00:00)")]
    [InlineData("LeaseMaxBatch", "101", "must be between 1 and Burst (100) (was 101)")]
    [InlineData("KeyPrefix", "edge:{x}", "must be 1-64 characters from [A-Za-z0-9._:-] (no braces: the partition is the only hash tag)")]
    [InlineData("Key", "{tenant}:{user}", "unknown placeholder '{user}'; use {tenant}, {principal}, {ip}, {route}, {header:Name} or {body:/json/pointer}")]
    [InlineData("Key", "{body:sender}", "{body:/json/pointer} needs an RFC 6901 JSON pointer starting with '/'")]
    [InlineData("Key", "{header:X Api Key}", "'X Api Key' in '{header:X Api Key}' is not a header name (letters, digits and !#$%&'*+-.^_`|~, no spaces or ':')")]
    [InlineData("Key", "{tenant", "unclosed '{' at position 0")]
    [InlineData("Key", "a b:{tenant}", "literal text 'a b:' may only contain [A-Za-z0-9._:-]")]
    public void TryCreate_InvalidField_ReportsFieldAndReason(string field, string value, string message)
    {
        var options = new RateLimitPolicyOptions { Limit = 100 };
        options = field switch
        {
            "Algorithm" => options with { Algorithm = value },
            "Mode" => options with { Mode = value },
            "OnRedisUnavailable" => options with { OnRedisUnavailable = value },
            "Headers" => options with { Headers = value },
            "ResetFormat" => options with { ResetFormat = value },
            "Limit" => options with { Limit = int.Parse(value) },
            "Burst" => options with { Burst = int.Parse(value) },
            "Window" => options with { Window = TimeSpan.FromSeconds(int.Parse(value)) },
            "LocalShare" => options with { LocalShare = double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            "DecisionDeadline" => options with { DecisionDeadline = TimeSpan.FromSeconds(int.Parse(value)) },
            "LeaseMaxBatch" => options with { LeaseMaxBatch = int.Parse(value) },
            "KeyPrefix" => options with { KeyPrefix = value },
            "Key" => options with { Key = value },
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };
        var errors = new ConfigErrorList();

        var policy = RateLimitPolicy.TryCreate("p", options, errors);

        Assert.Null(policy);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("Edge:RateLimits:p:" + field, error.Location);
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("{tenant}-{principal}", "{tenant}", "{principal}")]
    [InlineData("{tenant}.{header:X-User}", "{tenant}", "{header:X-User}")]
    [InlineData("{ip}{route}", "{ip}", "{route}")]
    [InlineData("{tenant}:{principal}_{route}", "{principal}", "{route}")]
    public void TryCreate_PlaceholdersNotSeparatedByColon_RejectedAsAmbiguous(string key, string left, string right)
    {
        // Values may contain '.', '_', '-' and '@': with "{tenant}-{principal}" tenant "acme-eu" and principal "bob"
        // resolve to the same partition as tenant "acme" and principal "eu-bob", so two tenants would share a bucket.
        var errors = new ConfigErrorList();

        var policy = RateLimitPolicy.TryCreate("p", new RateLimitPolicyOptions { Limit = 100, Key = key }, errors);

        Assert.Null(policy);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("Edge:RateLimits:p:Key", error.Location);
        Assert.Equal(
            $"{left} and {right} must be separated by text containing ':' (values may contain '.', '_', '-' and '@', so without it two different pairs of values can make the same key); e.g. {left}:{right}",
            error.Message);
    }

    [Theory]
    [InlineData("{tenant}:{principal}")]
    [InlineData("{tenant}-x:{principal}")]
    [InlineData("scan:{ip}")]
    [InlineData("{route}:v1.{ip}")]
    public void TryCreate_PlaceholdersSeparatedByColon_Accepted(string key)
    {
        var errors = new ConfigErrorList();

        var policy = RateLimitPolicy.TryCreate("p", new RateLimitPolicyOptions { Limit = 100, Key = key }, errors);

        Assert.False(errors.HasErrors, string.Join("; ", errors.Items));
        Assert.NotNull(policy);
    }

    [Fact]
    public void TryCreate_NameWithBrace_Rejected()
    {
        var errors = new ConfigErrorList();

        RateLimitPolicy.TryCreate("a{b}", new RateLimitPolicyOptions { Limit = 1 }, errors);

        Assert.Contains(errors.Errors, e => e.Location == "Edge:RateLimits:a{b}" && e.Message.Contains("[A-Za-z0-9._-]", StringComparison.Ordinal));
    }

    [Fact]
    public void LocalShareOf_HalfShare_HalvesLimitAndBurstRoundingUp()
    {
        var policy = RateLimitPolicy.TryCreate("p", new RateLimitPolicyOptions { Limit = 11, Burst = 5, LocalShare = 0.5 }, new ConfigErrorList())!;

        var local = policy.LocalShareOf();

        Assert.Equal(6, local.Limit);
        Assert.Equal(3, local.Burst);
    }
}
