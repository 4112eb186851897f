using Edge.Proxy.ThreatProtection;

namespace Edge.Proxy.Tests.ThreatProtection;

public sealed class BanEndpointsTests
{
    [Theory]
    [InlineData("203.0.113.0/24", "203.0.113.0/24")]
    [InlineData("203.0.113.77/24", "203.0.113.0/24")] // host bits cleared, as the 201 answer then shows
    [InlineData("10.0.0.0/08", "10.0.0.0/8")]
    [InlineData("203.0.113.7/32", "203.0.113.7")] // one address: the key {ip} renders
    [InlineData("2001:DB8:AB::1/48", "2001:db8:ab::/48")]
    [InlineData("2001:db8::1/64", "2001_db8__")] // clients are counted and banned per /64
    [InlineData("2001:db8::1/128", "2001_db8__")]
    [InlineData("::ffff:10.1.2.3/104", "10.0.0.0/8")]
    [InlineData("2001:DB8::7", "2001_db8__")]
    [InlineData("acme:203.0.113.7", "acme:203.0.113.7")]
    [InlineData("acme/203.0.113.7", "acme/203.0.113.7")] // a template literal may hold '/': not a network
    [InlineData("203.0.113.7/orders", "203.0.113.7/orders")]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("0.0.0.0", "0.0.0.0")]
    [InlineData("::ffff:10.0.0.1", "10.0.0.1")] // what a dual-stack listener shows is the IPv4 address {ip} renders
    [InlineData("12345", "12345")] // a numeric principal or tenant key, not an address
    [InlineData("0xabcdef0123456789abcdef0123456789abcdef01", "0xabcdef0123456789abcdef0123456789abcdef01")]
    [InlineData("v1.2", "v1.2")]
    public void ResolveKey_WrittenKey_StoredAsItsCanonicalText(string written, string stored)
    {
        var error = BanEndpoints.ResolveKey(written, out var key);

        Assert.Null(error);
        Assert.Equal(stored, key);
    }

    [Theory]
    [InlineData("203.0.113.0/33", "1 to 32")]
    [InlineData("0.0.0.0/0", "1 to 32")]
    [InlineData("::/0", "1 to 128")]
    [InlineData("2001:db8::/129", "1 to 128")]
    [InlineData("10.0.0.0/99999999999", "1 to 32")]
    [InlineData("10.0.0.0/", "prefix length is missing (1 to 32)")] // before: 201, stored as a literal that matched no client
    [InlineData("2001:db8::/", "prefix length is missing (1 to 128)")]
    public void ResolveKey_NetworkWithImpossiblePrefix_IsAnError(string written, string expected)
    {
        var error = BanEndpoints.ResolveKey(written, out _);

        Assert.NotNull(error);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("010.0.0.1")] // 8.0.0.1 to inet_aton and .NET, 10.0.0.1 to most readers
    [InlineData("10.0.0.01")]
    [InlineData("10.1")] // 10.0.0.1 to inet_aton
    [InlineData("0x0a000001")]
    [InlineData("0x0a.0.0.1")]
    [InlineData("167772161.0")]
    [InlineData("10.0.0.1.")]
    [InlineData("10.0.0.1.5")]
    [InlineData("010.0.0.0/8")] // was stored as 8.0.0.0/8
    [InlineData("10.1/16")]
    public void ResolveKey_AmbiguousIpv4Spelling_IsAnError(string written)
    {
        var error = BanEndpoints.ResolveKey(written, out _);

        Assert.NotNull(error);
        Assert.Contains("four decimal numbers", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:10:00", 600)]
    [InlineData("00:10", 600)]
    [InlineData("1.00:00:00", 86400)]
    [InlineData("365.00:00:00", 31536000)]
    public void ParseDuration_HoursMinutesSeconds_Accepted(string written, long seconds)
    {
        Assert.Null(BanEndpoints.ParseDuration(written, out var duration));
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration);
    }

    [Theory]
    [InlineData("30", "such as 00:10:00")] // TimeSpan reads 30 days: a month's ban for someone who meant 30 seconds
    [InlineData("10", "such as 00:10:00")]
    [InlineData("1.5", "such as 00:10:00")]
    [InlineData("soon", "such as 00:10:00")]
    [InlineData("00:00:00", "positive")]
    [InlineData("-00:00:05", "positive")]
    [InlineData("366.00:00:00", "at most 365.00:00:00")]
    public void ParseDuration_BareNumberOrOutOfRange_IsAnError(string written, string expected)
    {
        var error = BanEndpoints.ParseDuration(written, out _);

        Assert.NotNull(error);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
