using Edge.Proxy.Redis;
using Edge.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Proxy.Tests.Redis;

/// <summary>
/// <c>Edge:Redis</c> took a StackExchange.Redis string with <c>password=</c> in it, so the Redis password sat in
/// appsettings.json, a unit file or the process's command line (<c>ps</c>), where the project's rule allows secrets only
/// as <c>env:</c>/<c>file:</c> references. Now the whole string may be such a reference, and an inline password is refused.
/// </summary>
public sealed class RedisConnectionSettingTests
{
    [Theory]
    [InlineData("127.0.0.1:6379,password=hunter2-inline")]
    [InlineData("127.0.0.1:6379,user=edge,password=hunter2-inline")]
    [InlineData("127.0.0.1:6379,abortConnect=false,Password=hunter2-inline")]
    [InlineData("password=hunter2-inline,127.0.0.1:6379")]
    public async Task Create_RedisWithInlinePassword_RefusedWithoutTheSecret(string configured)
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => CreateAsync(configured));

        Assert.StartsWith("Edge:Redis ", refused.Message, StringComparison.Ordinal);
        Assert.Contains("env:NAME or file:/path", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("redis://edge:hunter2-inline@127.0.0.1:6379")]
    [InlineData("rediss://:hunter2-inline@127.0.0.1:6379/0")]
    [InlineData("127.0.0.1:6379,pasword=hunter2-inline")]
    public async Task Create_RedisUriWithCredentialsOrMisspeltPassword_RefusedWithoutTheSecret(string configured)
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => CreateAsync(configured));

        Assert.StartsWith("Edge:Redis ", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_RedisEnvReferenceUnset_RefusedNamingTheVariable()
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => CreateAsync("env:EDGE_TEST_REDIS_UNSET_VARIABLE"));

        Assert.Equal("Edge:Redis: environment variable 'EDGE_TEST_REDIS_UNSET_VARIABLE' is not set or empty", refused.Message);
    }

    [Fact]
    public async Task Create_RedisUpperCasePrefix_RefusedAsNoReference()
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => CreateAsync("ENV:EDGE_REDIS"));

        Assert.StartsWith("Edge:Redis: 'ENV:' is not a secret reference", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_RedisEnvReference_ConnectsWithTheResolvedString()
    {
        await using var server = await RedisServer.StartAsync();
        var variable = "EDGE_TEST_REDIS_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, server.ConnectionString);
        try
        {
            await using var app = await CreateAsync("env:" + variable);

            var connection = await app.Services.GetRequiredService<EdgeRedis>().ConnectAsync();

            Assert.NotNull(connection);
            await connection.GetDatabase().PingAsync();
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task Create_RedisFileReference_ConnectsWithTheResolvedString()
    {
        await using var server = await RedisServer.StartAsync();
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, server.ConnectionString + "\n");
        try
        {
            await using var app = await CreateAsync("file:" + file);

            var connection = await app.Services.GetRequiredService<EdgeRedis>().ConnectAsync();

            Assert.NotNull(connection);
            await connection.GetDatabase().PingAsync();
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Create_RedisInlineWithoutPassword_Accepted()
    {
        await using var app = await CreateAsync("127.0.0.1:6379,user=edge,abortConnect=false");

        Assert.True(app.Services.GetRequiredService<EdgeRedis>().IsConfigured);
    }

    private static Task<WebApplication> CreateAsync(string redis) =>
        Task.Run(() => EdgeApplication.Create(
        [
            $"--Edge:ProxyConfigPath={Path.Combine(Path.GetTempPath(), "edge-redis-setting-absent", "proxy.json")}",
            "--Edge:Audit:LocalFile=",
            $"--Edge:Redis={redis}",
        ]));
}
