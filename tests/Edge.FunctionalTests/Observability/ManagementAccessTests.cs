using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Edge.FunctionalTests.Hostile;
using Edge.Testing;
using Edge.Testing.Browser;
using Microsoft.Playwright;

namespace Edge.FunctionalTests.Observability;

/// <summary>
/// The management listener's Host check (DNS rebinding) and its optional bearer token, on a real edge: a page an
/// operator opens, whose name resolves to 127.0.0.1, must not read /edge/status or ban anyone from the operator's
/// browser; probes and scrapers by IP keep working without any setting.
/// </summary>
public sealed class ManagementAccessTests : IAsyncLifetime
{
    private const string RebindName = "rebind.example";

    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(SystemChromium.ExecutablePath), $"{SystemChromium.ExecutablePath} is missing: apt-get install -y chromium");
        _playwright = await Playwright.CreateAsync();
        // What the attacker's DNS answers after the page has loaded: its own name is now 127.0.0.1.
        _browser = await _playwright.Chromium.LaunchAsync(SystemChromium.LaunchOptions($"--host-resolver-rules=MAP {RebindName} 127.0.0.1"));
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }

    [Fact]
    public async Task BansApi_RebindingPageInBrowser_421AndNoBan()
    {
        await using var edge = await StartAsync();
        var page = await _browser.NewPageAsync();
        await page.GotoAsync($"http://{RebindName}:{edge.ManagementPort}/healthz");

        // Same origin for the browser: no preflight, and the page may read the answers.
        var ban = await page.EvaluateAsync<JsonElement>("""
            async () => {
              const r = await fetch('/edge/bans', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                                    body: JSON.stringify({ key: '203.0.113.50', for: '01:00:00' }) });
              return { status: r.status, body: await r.text() };
            }
            """);
        var status = await page.EvaluateAsync<int>("async () => (await fetch('/edge/status')).status");

        Assert.Equal(421, ban.GetProperty("status").GetInt32());
        Assert.Equal("management_host_not_allowed", Code(ban.GetProperty("body").GetString()!));
        Assert.Equal(421, status);
        var bans = await edge.Management.GetStringAsync("/edge/bans");
        Assert.DoesNotContain("203.0.113.50", bans, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:{port}", "/edge/status")]
    [InlineData("10.1.2.3:9901", "/healthz")]
    [InlineData("10.1.2.3", "/metrics")]
    [InlineData("[::1]:{port}", "/edge/bans")]
    [InlineData("[2001:db8::7]:9901", "/readyz")]
    [InlineData("localhost:{port}", "/edge/status")]
    [InlineData("LocalHost", "/edge/bans")]
    public async Task ManagementPort_IpLiteralOrLocalhostWithoutSettings_Answers(string host, string path)
    {
        await using var edge = await StartAsync();

        var response = await GetAsync(edge, path, host);

        Assert.Equal(200, response.Status);
    }

    [Theory]
    [InlineData("evil.example:{port}", "/edge/status")]
    [InlineData("evil.example", "/edge/bans")]
    [InlineData("127.0.0.1.nip.io:{port}", "/edge/bans/203.0.113.7")]
    [InlineData("localhost.evil.example", "/healthz")]
    [InlineData("2130706433:{port}", "/metrics")]
    [InlineData("evil.example", "/no-such-path")]
    public async Task ManagementPort_OtherHostWithoutSettings_421Problem(string host, string path)
    {
        await using var edge = await StartAsync();

        var response = await GetAsync(edge, path, host);

        Assert.Equal((421, "management_host_not_allowed"), (response.Status, response.ProblemCode()));
        Assert.Equal("application/problem+json", response.Header("Content-Type"));
    }

    [Theory]
    [InlineData("edge-admin.internal:9901", 200)]
    [InlineData("EDGE-ADMIN.internal", 200)]
    [InlineData("eu.ops.example:9901", 200)]
    [InlineData("ops.example", 421)]
    [InlineData("edge-admin.internal.evil.example", 421)]
    [InlineData("10.1.2.3:9901", 200)]
    public async Task ManagementPort_ManagementHostsSet_AnswersListedNamesAndIps(string host, int expected)
    {
        await using var edge = await StartAsync(new() { ["Edge:ManagementHosts"] = "edge-admin.internal; *.ops.example" });

        var response = await GetAsync(edge, "/edge/status", host);

        Assert.Equal(expected, response.Status);
    }

    [Fact]
    public async Task ProxyPort_AnyHostWithoutAllowedHosts_StillProxied()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") }));

        var response = await RawHttp.SendAsync(edge.ProxyPort, "GET /r/1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
    }

    [Theory]
    [InlineData("/edge/status", "GET")]
    [InlineData("/edge/bans", "GET")]
    [InlineData("/edge/bans/203.0.113.7", "GET")]
    [InlineData("/edge/bans/203.0.113.7", "DELETE")]
    [InlineData("/edge/bans", "POST")]
    public async Task GuardedEndpoint_TokenSetNoAuthorization_401WithBearerChallenge(string path, string method)
    {
        var (token, settings) = TokenSettings();
        await using var edge = await StartAsync(settings);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = new StringContent("""{"key":"203.0.113.7","for":"00:10:00"}""", Encoding.UTF8, "application/json");
        }

        using var response = await edge.Management.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("management_token_required", Code(await response.Content.ReadAsStringAsync()));
        Assert.Equal("Bearer realm=\"edge-management\"", response.Headers.WwwAuthenticate.ToString());
        var bans = await edge.Management.SendAsync(Authorized(HttpMethod.Get, "/edge/bans", token));
        Assert.DoesNotContain("203.0.113.7", await bans.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bearer wrong-token-0123456789")]
    [InlineData("Basic {token}")]
    [InlineData("Bearer {token}x")]
    [InlineData("Bearer")]
    public async Task GuardedEndpoint_WrongAuthorization_401Invalid(string authorization)
    {
        var (token, settings) = TokenSettings();
        await using var edge = await StartAsync(settings);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/edge/status");
        request.Headers.TryAddWithoutValidation("Authorization", authorization.Replace("{token}", token, StringComparison.Ordinal));

        using var response = await edge.Management.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("management_token_invalid", Code(await response.Content.ReadAsStringAsync()));
        Assert.Contains("error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Main_TokenSetAndGuessed_RefusalLoggedWithoutAnyToken()
    {
        var (token, settings) = TokenSettings();
        var directory = Directory.CreateTempSubdirectory("edge-mgmt-log-").FullName;
        var configPath = Path.Combine(directory, "proxy.json");
        await File.WriteAllTextAsync(configPath, ProxyJson.Create("http://127.0.0.1:9/", new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") }));
        var managementPort = FreePort.Next();
        using var process = new Auditing.ChildProcess(Auditing.ChildProcess.BuildOutput("Edge.Proxy"),
        [
            $"--urls=http://127.0.0.1:{FreePort.Next()}", $"--Edge:ManagementUrls=http://127.0.0.1:{managementPort}",
            $"--Edge:ProxyConfigPath={configPath}", $"--Edge:Audit:SpoolPath={Path.Combine(directory, "spool")}",
            $"--Edge:Audit:LocalFile={Path.Combine(directory, "audit.ndjson")}", $"--Edge:ManagementToken={settings["Edge:ManagementToken"]}",
        ]);
        process.Start();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}") };
        HttpStatusCode? ready = null;
        for (var i = 0; i < 300 && ready != HttpStatusCode.OK; i++)
        {
            try
            {
                ready = (await client.GetAsync("/readyz")).StatusCode;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }

        var guessed = await client.SendAsync(Authorized(HttpMethod.Get, "/edge/bans", "guess-" + token));
        var right = await client.SendAsync(Authorized(HttpMethod.Get, "/edge/bans", token));
        await process.StopAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(HttpStatusCode.OK, ready);
        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.OK), (guessed.StatusCode, right.StatusCode));
        Assert.Contains("\"Id\":1701", process.RecentOutput, StringComparison.Ordinal);
        Assert.DoesNotContain(token, process.RecentOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BansApi_TokenSetAndSent_BanListedAndLifted()
    {
        var (token, settings) = TokenSettings();
        await using var edge = await StartAsync(settings);
        var ban = Authorized(HttpMethod.Post, "/edge/bans", token);
        ban.Content = new StringContent("""{"key":"203.0.113.8","for":"00:10:00"}""", Encoding.UTF8, "application/json");

        var added = await edge.Management.SendAsync(ban);
        var listed = await (await edge.Management.SendAsync(Authorized(HttpMethod.Get, "/edge/bans", token))).Content.ReadAsStringAsync();
        var lifted = await edge.Management.SendAsync(Authorized(HttpMethod.Delete, "/edge/bans/203.0.113.8", token));
        var status = await edge.Management.SendAsync(Authorized(HttpMethod.Get, "/edge/status", token, scheme: "bearer"));

        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        Assert.Contains("203.0.113.8", listed, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NoContent, lifted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    [InlineData("/metrics")]
    public async Task ProbeEndpoint_TokenSetNoAuthorization_Answers(string path)
    {
        var (_, settings) = TokenSettings();
        await using var edge = await StartAsync(settings);

        using var response = await edge.Management.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static Task<EdgeHost> StartAsync(Dictionary<string, string?>? settings = null) =>
        EdgeHost.StartAsync(ProxyJson.Create("http://127.0.0.1:9/", new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") }), settings);

    /// <summary>A fresh token in a file, referenced as a platform team would (file: secrets, as Kubernetes mounts them).</summary>
    private static (string Token, Dictionary<string, string?> Settings) TokenSettings()
    {
        var token = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
        var path = Path.Combine(Directory.CreateTempSubdirectory("edge-mgmt-token-").FullName, "token");
        File.WriteAllText(path, token + "\n");
        return (token, new() { ["Edge:ManagementToken"] = "file:" + path });
    }

    private static HttpRequestMessage Authorized(HttpMethod method, string path, string token, string scheme = "Bearer")
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue(scheme, token);
        return request;
    }

    private static Task<RawResponse> GetAsync(EdgeHost edge, string path, string host) =>
        RawHttp.SendAsync(edge.ManagementPort,
            $"GET {path} HTTP/1.1\r\nHost: {host.Replace("{port}", edge.ManagementPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)}\r\nConnection: close\r\n\r\n");

    private static string? Code(string body)
    {
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("code").GetString();
    }
}
