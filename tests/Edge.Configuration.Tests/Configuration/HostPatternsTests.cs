namespace Edge.Configuration.Tests.Configuration;

public sealed class HostPatternsTests
{
    [Theory]
    [InlineData("api.example.com")]
    [InlineData("API.Example.com")]
    [InlineData("api.example.com:8443")]
    [InlineData("api.example.com:*")]
    [InlineData("*.example.com")]
    [InlineData("*.example.com:443")]
    [InlineData("*")]
    [InlineData("*:8080")]
    [InlineData("localhost")]
    [InlineData("127.0.0.1:8080")]
    [InlineData("bücher.example")]
    [InlineData("svc_internal.local")]
    public void Explain_EntryTheMatcherReads_Null(string entry)
    {
        Assert.Null(HostPatterns.Explain(entry));
    }

    [Theory]
    [InlineData("a.com:abc", "port")]
    [InlineData("a.com:0", "port")]
    [InlineData("a.com:65536", "port")]
    [InlineData("a.com:-1", "port")]
    [InlineData("a.com:+80", "port")]
    [InlineData("a.com: 80", "port")]
    [InlineData("a.com:", "port")]
    [InlineData("[::1]:80", "IPv6")]
    [InlineData("[::1]", "IPv6")]
    [InlineData("::1", "IPv6")]
    [InlineData("a.com:80:90", "more than one colon")]
    [InlineData(":80", "no host")]
    [InlineData("a.*.com", "wildcard")]
    [InlineData("*a.com", "wildcard")]
    [InlineData("*.", "character")]
    [InlineData("exa mple.com", "character")]
    [InlineData("a\u0000b.com", "character")]
    [InlineData("a.com/x", "character")]
    [InlineData("user@a.com", "character")]
    [InlineData("bü cher.example", "character")]
    [InlineData("admin.example.", "ends with a dot")]
    [InlineData("*.example.com.:443", "ends with a dot")]
    public void Explain_EntryThatCanNeverMatch_SaysWhy(string entry, string expected)
    {
        var problem = HostPatterns.Explain(entry);

        Assert.NotNull(problem);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ControlCharacter_NamesTheEntryWithoutTheRawCharacter()
    {
        var errors = new ConfigErrorList();

        HostPatterns.Validate(["ok.example.com", "a\u0000b.com"], "ReverseProxy:Routes:r:Match:Hosts", errors);

        var error = Assert.Single(errors.Items);
        Assert.Equal("ReverseProxy:Routes:r:Match:Hosts[1]", error.Location);
        Assert.Contains("'a\\u0000b.com'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\0', error.Message);
    }
}
