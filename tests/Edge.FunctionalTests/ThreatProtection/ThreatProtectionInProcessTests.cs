using System.Net;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.ThreatProtection;

/// <summary>One real edge without Redis: bans are kept in process, keyed by the client the trusted-proxy rule resolves.</summary>
public sealed class ThreatProtectionInProcessTests : IAsyncLifetime
{
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(
                _backend.Url,
                new Dictionary<string, object>
                {
                    ["keys"] = ProxyJson.Route("/k/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "partner-keys" }),
                },
                new
                {
                    Authentication = new Dictionary<string, object>
                    {
                        ["partner-keys"] = new { Type = "ApiKey", Keys = new[] { new { Sha256 = new string('a', 64), Principal = "p" } } },
                    },
                    ThreatProtection = new
                    {
                        Rules = new Dictionary<string, object>
                        {
                            ["guessing"] = new { On = new[] { "AuthenticationFailed" }, Key = "{ip}", Threshold = 3, Window = "00:01:00", BanFor = "00:05:00" },
                            ["scanning"] = new { On = "NotFound", Key = "scan:{ip}", Threshold = 3, Window = "00:01:00", BanFor = "00:05:00" },
                        },
                    },
                }),
            new Dictionary<string, string?> { ["Edge:TrustedProxies"] = "127.0.0.1/32" });
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
    }

    [Fact]
    public async Task RepeatedBadKeysBehindTrustedProxy_BansTheResolvedClientNotTheProxy()
    {
        for (var i = 0; i < 3; i++)
        {
            using var refused = await SendAsync("203.0.113.7", "guessed-key-" + i);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var blocked = await SendAsync("203.0.113.7", "guessed-key-3");
        using var neighbour = await SendAsync("203.0.113.8", "guessed-key-4");

        Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, neighbour.StatusCode);
        using var list = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/bans"));
        var ban = Assert.Single(list.RootElement.GetProperty("bans").EnumerateArray());
        Assert.Equal("203.0.113.7", ban.GetProperty("key").GetString());
        Assert.Equal("guessing", ban.GetProperty("rule").GetString());
        Assert.InRange(ban.GetProperty("remainingSeconds").GetInt64(), 295, 300);
        var metrics = await _edge.Management.GetStringAsync("/metrics");
        Assert.Matches("edge_threat_bans_total\\{[^}]*rule=\"guessing\"[^}]*\\} 1", metrics);
        Assert.Matches("edge_threat_blocked_total\\{[^}]*route=\"keys\"[^}]*\\} [1-9]", metrics);
    }

    [Fact]
    public async Task ManualBan_WithoutRedis_BlocksUntilLifted()
    {
        using var added = await _edge.Management.PostAsync("/edge/bans",
            new StringContent("{\"key\":\"203.0.113.20\",\"for\":\"00:01:00\",\"reason\":\"test\"}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);

        using (var blocked = await SendAsync("203.0.113.20", new string('x', 8)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
        }

        using var lifted = await _edge.Management.DeleteAsync("/edge/bans/203.0.113.20");
        using var served = await SendAsync("203.0.113.20", "wrong");
        Assert.Equal(HttpStatusCode.NoContent, lifted.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, served.StatusCode);
    }

    [Fact]
    public async Task ManualBan_NetworkWithoutRedis_BlocksItsClientsUntilLifted()
    {
        using var added = await _edge.Management.PostAsync("/edge/bans",
            new StringContent("{\"key\":\"203.0.113.128/25\",\"for\":\"00:01:00\"}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);

        using (var blocked = await SendAsync("203.0.113.200", "wrong"))
        using (var neighbour = await SendAsync("203.0.113.127", "wrong"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, neighbour.StatusCode);
        }

        using var lifted = await _edge.Management.DeleteAsync("/edge/bans/203.0.113.128%2F25");
        using var served = await SendAsync("203.0.113.200", "wrong");
        Assert.Equal(HttpStatusCode.NoContent, lifted.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, served.StatusCode);
    }

    [Theory]
    [InlineData("alice")] // a principal, while no rule is keyed on {principal}
    [InlineData("acme:203.0.113.21")] // {tenant}:{ip}, while no rule has that key
    [InlineData("scan:alice")] // the scanning rule's literal, without an address after it
    [InlineData("1.2.3.4:80")] // an address with a port, as some logs write it
    public async Task ManualBan_KeyNoRuleRendersAndNoAddress_Answers400AndBansNothing(string key)
    {
        // A manual ban blocks the requests whose rendered key equals it: such a key is rendered for no request, yet the
        // ban answered 201 Created and blocked no one.
        using var added = await _edge.Management.PostAsync("/edge/bans",
            new StringContent($"{{\"key\":\"{key}\",\"for\":\"00:01:00\"}}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, added.StatusCode);
        using var problem = JsonDocument.Parse(await added.Content.ReadAsStringAsync());
        Assert.Equal("ban_invalid", problem.RootElement.GetProperty("code").GetString());
        Assert.Contains("{ip}, scan:{ip}", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var list = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/bans"));
        Assert.Empty(list.RootElement.GetProperty("bans").EnumerateArray());
    }

    [Fact]
    public async Task ManualBan_KeyARuleRenders_BlocksThatClient()
    {
        using var added = await _edge.Management.PostAsync("/edge/bans",
            new StringContent("{\"key\":\"scan:203.0.113.21\",\"for\":\"00:01:00\"}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);

        using var blocked = await SendAsync("203.0.113.21", "wrong");
        using var neighbour = await SendAsync("203.0.113.22", "wrong");
        Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, neighbour.StatusCode);
    }

    [Theory]
    [InlineData("010.0.0.1")]
    [InlineData("10.1")]
    [InlineData("0x0a000001")]
    [InlineData("10.0.0.1.")]
    public async Task ManualBan_AmbiguousIpv4Spelling_Answers400AndBansNothing(string key)
    {
        // Stored as written, such a ban never matched a client (the edge keys 10.0.0.1 as "10.0.0.1"), yet answered 201.
        using var added = await _edge.Management.PostAsync("/edge/bans",
            new StringContent($"{{\"key\":\"{key}\",\"for\":\"00:01:00\"}}", System.Text.Encoding.UTF8, "application/json"));
        using var removed = await _edge.Management.DeleteAsync("/edge/bans/" + key);

        Assert.Equal(HttpStatusCode.BadRequest, added.StatusCode);
        Assert.Equal("application/problem+json", added.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await added.Content.ReadAsStringAsync());
        Assert.Equal("ban_invalid", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, removed.StatusCode);
        using var list = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/bans"));
        Assert.Empty(list.RootElement.GetProperty("bans").EnumerateArray());
    }

    [Fact]
    public async Task ManualBan_Ipv4MappedAddress_BansTheIpv4Client()
    {
        using var added = await _edge.Management.PostAsync("/edge/bans",
            new StringContent("{\"key\":\"::ffff:203.0.113.30\",\"for\":\"00:01:00\"}", System.Text.Encoding.UTF8, "application/json"));

        using var blocked = await SendAsync("203.0.113.30", "wrong");
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
        using var lifted = await _edge.Management.DeleteAsync("/edge/bans/::ffff:203.0.113.30");
        Assert.Equal(HttpStatusCode.NoContent, lifted.StatusCode);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData(null)]
    public async Task ManualBan_BodyNotSentAsJson_Answers415AndBansNothing(string? contentType)
    {
        // What a cross-site page can send without a CORS preflight: a text/plain form whose field name is the JSON object.
        using var content = new StringContent("{\"key\":\"203.0.113.40\",\"for\":\"365.00:00:00\",\"reason\":\"csrf=\"}");
        content.Headers.ContentType = contentType is null ? null : System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/edge/bans") { Content = content };
        request.Headers.TryAddWithoutValidation("Origin", "https://attacker.example");

        using var response = await _edge.Management.SendAsync(request);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("unsupported_media_type", problem.RootElement.GetProperty("code").GetString());
        using var list = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/bans"));
        Assert.DoesNotContain(list.RootElement.GetProperty("bans").EnumerateArray(), ban => ban.GetProperty("key").GetString() == "203.0.113.40");
        using (var served = await SendAsync("203.0.113.40", "wrong"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, served.StatusCode);
        }
    }

    [Fact]
    public async Task ManualBan_CorsPreflightFromAnotherOrigin_NotGranted()
    {
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/edge/bans");
        preflight.Headers.TryAddWithoutValidation("Origin", "https://attacker.example");
        preflight.Headers.TryAddWithoutValidation("Access-Control-Request-Method", "POST");
        preflight.Headers.TryAddWithoutValidation("Access-Control-Request-Headers", "content-type");

        using var response = await _edge.Management.SendAsync(preflight);

        Assert.False(response.IsSuccessStatusCode, $"preflight answered {(int)response.StatusCode}");
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task PathsNoRouteTakes_CountAsNotFound_BanTheScannerOnEveryPath()
    {
        for (var i = 0; i < 3; i++)
        {
            using var probe = await SendToAsync("203.0.113.30", "/wp-admin/" + i);
            Assert.Equal(HttpStatusCode.NotFound, probe.StatusCode);
        }

        using var unrouted = await SendToAsync("203.0.113.30", "/.env");
        using var routed = await SendToAsync("203.0.113.30", "/k/1");
        using var neighbour = await SendToAsync("203.0.113.31", "/.env");

        Assert.Equal(HttpStatusCode.Forbidden, unrouted.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, routed.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, neighbour.StatusCode);
        Assert.Equal("client_blocked", JsonDocument.Parse(await unrouted.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        using var list = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/bans"));
        Assert.Contains(list.RootElement.GetProperty("bans").EnumerateArray(),
            ban => ban.GetProperty("key").GetString() == "scan:203.0.113.30" && ban.GetProperty("rule").GetString() == "scanning");
    }

    private async Task<HttpResponseMessage> SendToAsync(string client, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", client);
        return await _edge.Client.SendAsync(request);
    }

    private async Task<HttpResponseMessage> SendAsync(string client, string apiKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/k/1");
        request.Headers.TryAddWithoutValidation("X-Api-Key", apiKey);
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", client);
        return await _edge.Client.SendAsync(request);
    }
}
