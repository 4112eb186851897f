using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Edge.FunctionalTests.Authorization;
using Edge.Testing;
using Microsoft.IdentityModel.Tokens;

namespace Edge.FunctionalTests.Configuration;

/// <summary>
/// A <c>file:</c> secret replaced while proxy.json stays as it is (a Kubernetes Secret update, a rotation script) is
/// applied by the edge's own poll: before, it took an edit of proxy.json or a restart, and a leaked key kept verifying.
/// </summary>
public sealed class SecretFileRotationTests : IAsyncLifetime
{
    private readonly string _mount = Directory.CreateTempSubdirectory("edge-secret-mount-").FullName;
    private readonly string _oldKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(40));
    private readonly string _newKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(40));
    private Backend _backend = null!;

    public Task InitializeAsync()
    {
        _backend = Backend.Start();
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _backend.Dispose();
        Directory.Delete(_mount, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Poll_SigningKeyFileRewrittenInPlace_NewKeyAcceptedOldRefusedWithoutEditingProxyJson()
    {
        var keyFile = Path.Combine(_mount, "jwt-hs256");
        await File.WriteAllTextAsync(keyFile, _oldKey + "\n");
        await using var edge = await EdgeHost.StartAsync(Config(keyFile));
        var cachedOld = Token(_oldKey);
        Assert.Equal(HttpStatusCode.OK, await SendAsync(edge, cachedOld));

        await File.WriteAllTextAsync(keyFile, _newKey + "\n");

        Assert.Equal(HttpStatusCode.OK, await StatusWithinAsync(edge, Token(_newKey), HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(edge, cachedOld));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(edge, Token(_oldKey)));
    }

    [Fact]
    public async Task Poll_SecretFileUnchangedSinceStart_NoFurtherLoadAttempt()
    {
        var keyFile = Path.Combine(_mount, "jwt-hs256");
        await File.WriteAllTextAsync(keyFile, _oldKey + "\n");
        await using var edge = await EdgeHost.StartAsync(Config(keyFile));
        var atStart = LastAttemptAt(await edge.Management.GetStringAsync("/edge/status"));

        // Three polls (500 ms each): the files the start read are not taken for changed ones.
        await Task.Delay(TimeSpan.FromSeconds(1.6));

        Assert.Equal(atStart, LastAttemptAt(await edge.Management.GetStringAsync("/edge/status")));
    }

    private static string? LastAttemptAt(string status) =>
        System.Text.Json.JsonDocument.Parse(status).RootElement.GetProperty("lastAttemptAt").GetString();

    [Fact]
    public async Task Poll_KubernetesSecretVolumeSwapped_NewKeyAcceptedOldRefused()
    {
        // A Secret volume: jwt-hs256 -> ..data/jwt-hs256, ..data -> ..<timestamp>/; an update swaps ..data in one rename.
        Directory.CreateDirectory(Path.Combine(_mount, "..2026_12_05_a"));
        await File.WriteAllTextAsync(Path.Combine(_mount, "..2026_12_05_a", "jwt-hs256"), _oldKey + "\n");
        File.CreateSymbolicLink(Path.Combine(_mount, "..data"), "..2026_12_05_a");
        var keyFile = Path.Combine(_mount, "jwt-hs256");
        File.CreateSymbolicLink(keyFile, Path.Combine("..data", "jwt-hs256"));
        await using var edge = await EdgeHost.StartAsync(Config(keyFile));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(edge, Token(_oldKey)));
        var configBefore = await File.ReadAllTextAsync(edge.ConfigPath);

        Directory.CreateDirectory(Path.Combine(_mount, "..2026_12_05_b"));
        await File.WriteAllTextAsync(Path.Combine(_mount, "..2026_12_05_b", "jwt-hs256"), _newKey + "\n");
        File.CreateSymbolicLink(Path.Combine(_mount, "..data_tmp"), "..2026_12_05_b");
        // rename(2) of one symbolic link over another, as the kubelet does (File.Move follows the link to its directory).
        using (var rename = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("mv", ["-T", Path.Combine(_mount, "..data_tmp"), Path.Combine(_mount, "..data")]))!)
        {
            await rename.WaitForExitAsync();
            Assert.Equal(0, rename.ExitCode);
        }

        Directory.Delete(Path.Combine(_mount, "..2026_12_05_a"), recursive: true);

        Assert.Equal(HttpStatusCode.OK, await StatusWithinAsync(edge, Token(_newKey), HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(edge, Token(_oldKey)));
        Assert.Equal(configBefore, await File.ReadAllTextAsync(edge.ConfigPath));
    }

    [Fact]
    public async Task Poll_SecretFileEmptiedMidRotation_RefusedKeepsServingThenApplied()
    {
        var keyFile = Path.Combine(_mount, "jwt-hs256");
        await File.WriteAllTextAsync(keyFile, _oldKey + "\n");
        await using var edge = await EdgeHost.StartAsync(Config(keyFile));

        // A rotation script that truncates before it writes: the empty file is a refusal, the old key keeps serving.
        await File.WriteAllTextAsync(keyFile, "");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!(await edge.Management.GetStringAsync("/edge/status")).Contains("refused-keeping-last-good", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Contains("is empty", await edge.Management.GetStringAsync("/edge/status"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await SendAsync(edge, Token(_oldKey)));

        await File.WriteAllTextAsync(keyFile, _newKey + "\n");
        Assert.Equal(HttpStatusCode.OK, await StatusWithinAsync(edge, Token(_newKey), HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(edge, Token(_oldKey)));
        Assert.Contains("\"state\":\"ok\"", await edge.Management.GetStringAsync("/edge/status"), StringComparison.Ordinal);
    }

    private static async Task<HttpStatusCode> StatusWithinAsync(EdgeHost edge, string token, HttpStatusCode expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var status = await SendAsync(edge, token);
        while (status != expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            status = await SendAsync(edge, token);
        }

        return status;
    }

    private static string Token(string key) => TestTokens.Create(new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256));

    private static async Task<HttpStatusCode> SendAsync(EdgeHost edge, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/hs/x");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await edge.Client.SendAsync(request);
        return response.StatusCode;
    }

    private string Config(string keyFile) => ProxyJson.Create(
        _backend.Url,
        new Dictionary<string, object> { ["hs"] = ProxyJson.Route("/hs/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "legacy-hs" }) },
        new
        {
            Authentication = new Dictionary<string, object>
            {
                ["legacy-hs"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, SigningKey = "file:" + keyFile },
            },
        });
}
