using Edge.Proxy.Observability;
using Edge.Proxy.Tests.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Edge.Proxy.Tests.Observability;

public sealed class ManagementAccessTests
{
    [Theory]
    [InlineData("http://127.0.0.1:9901")]
    [InlineData("http://localhost:9901")]
    [InlineData("http://[::1]:9901")]
    [InlineData("http://127.0.0.1:9901;http://[::1]:9902")]
    public void WarnIfExposed_LoopbackListenerWithoutToken_Silent(string urls)
    {
        using var logs = new CapturedLogs();

        ManagementAccess.Create(null, null, urls).WarnIfExposed(new LoggerFactory([logs]).CreateLogger("t"));

        Assert.Empty(logs.Entries);
    }

    [Theory]
    [InlineData("http://0.0.0.0:9901")]
    [InlineData("http://*:9901")]
    [InlineData("http://+:9901")]
    [InlineData("http://[::]:9901")]
    [InlineData("http://10.0.0.5:9901")]
    [InlineData("http://edge-admin.internal:9901")]
    [InlineData("http://127.0.0.1:9901;http://10.0.0.5:9902")]
    public void WarnIfExposed_ReachableBeyondLoopbackWithoutToken_OneWarning(string urls)
    {
        using var logs = new CapturedLogs();

        ManagementAccess.Create(null, null, urls).WarnIfExposed(new LoggerFactory([logs]).CreateLogger("t"));

        var entry = Assert.Single(logs.Entries);
        Assert.Equal((1702, LogLevel.Warning), (entry.Id.Id, entry.Level));
        Assert.Contains("Edge:ManagementToken", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WarnIfExposed_ReachableBeyondLoopbackWithToken_Silent()
    {
        using var logs = new CapturedLogs();
        var variable = "EDGE_TEST_MGMT_TOKEN_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "0123456789abcdef0123");
        try
        {
            ManagementAccess.Create(null, "env:" + variable, "http://0.0.0.0:9901").WarnIfExposed(new LoggerFactory([logs]).CreateLogger("t"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }

        Assert.Empty(logs.Entries);
    }

    [Theory]
    [InlineData("0123456789abcdef0123", "must be a secret reference")]
    [InlineData("env:EDGE_TEST_NEVER_SET_MGMT_TOKEN", "Edge:ManagementToken: environment variable 'EDGE_TEST_NEVER_SET_MGMT_TOKEN' is not set or empty")]
    public void Create_TokenNotAUsableReference_RefusedNamingTheSetting(string reference, string expected)
    {
        var error = Assert.Throws<InvalidOperationException>(() => ManagementAccess.Create(null, reference, "http://127.0.0.1:9901"));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("Edge:ManagementToken", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("0123456789abcdef0123", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("short")]
    [InlineData("0123456789 abcdef0123")]
    public void Create_WeakToken_Refused(string token)
    {
        var path = Path.GetTempFileName();
        File.WriteAllText(path, token);
        try
        {
            var error = Assert.Throws<InvalidOperationException>(() => ManagementAccess.Create(null, "file:" + path, "http://127.0.0.1:9901"));

            Assert.Contains("at least 16 characters", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(token, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("https://edge-admin.internal")]
    [InlineData("edge-admin.internal:9901")]
    [InlineData("edge-admin.internal/x")]
    [InlineData("edge-*.internal")]
    public void Create_HostEntryNotAName_RefusedNamingTheSetting(string entry)
    {
        var error = Assert.Throws<InvalidOperationException>(() => ManagementAccess.Create("ok.example;" + entry, null, "http://127.0.0.1:9901"));

        Assert.StartsWith($"Edge:ManagementHosts entry '{entry}' is not a host name", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("edge-admin.internal:9901", true)]
    [InlineData("other.internal:9901", false)]
    public void AllowsHost_NameOfAManagementUrl_Allowed(string host, bool expected)
    {
        var access = ManagementAccess.Create(null, null, "http://edge-admin.internal:9901");
        var http = new DefaultHttpContext();
        http.Request.Host = new HostString(host);

        Assert.Equal(expected, access.AllowsHost(http.Request));
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("anything.at.all:1")]
    public void AllowsHost_Star_AnyHost(string host)
    {
        var access = ManagementAccess.Create("*", null, "http://127.0.0.1:9901");
        var http = new DefaultHttpContext();
        http.Request.Host = new HostString(host);

        Assert.True(access.AllowsHost(http.Request));
    }
}
