using System.Net.Http.Json;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Edge.Testing;

namespace Edge.FunctionalTests.Approvals;

/// <summary>The approvals API is no proxied route, yet its sign-in failures count towards ban rules and bans apply to it.</summary>
public sealed class ApprovalsApiThreatTests
{
    [Fact]
    public async Task SignIn_RepeatedBadKeys_BansClientAndRefusesValidKeyWithClientBlocked()
    {
        using var backend = Backend.Start();
        await using var edge = await StartWithRuleAsync(backend.Url, "guessing", "AuthenticationFailed");

        // A caller that presents no credential guessed nothing: these do not count.
        for (var i = 0; i < 4; i++)
        {
            using var anonymous = await edge.Client.GetAsync("/_edge/approvals");
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("authentication_required", ApprovalEdge.Code(await ApprovalEdge.JsonAsync(anonymous)));
        }

        using (var signedIn = await edge.Client.SendAsync(ApprovalEdge.Api(HttpMethod.Get, "/_edge/approvals", ApprovalEdge.BobKey)))
        {
            Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        }

        for (var i = 0; i < 3; i++)
        {
            using var refused = await edge.Client.SendAsync(ApprovalEdge.Api(HttpMethod.Get, "/_edge/approvals", "guessed-key-" + i));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var blocked = await edge.Client.SendAsync(ApprovalEdge.Api(HttpMethod.Get, "/_edge/approvals", ApprovalEdge.BobKey));
        using var blockedRoute = await edge.Client.SendAsync(ApprovalEdge.Payment());

        await AssertClientBlockedAsync(blocked, blockedRoute);
        var ban = await SingleBanAsync(edge);
        Assert.Equal("127.0.0.1", ban.GetProperty("key").GetString());
        Assert.Equal("guessing", ban.GetProperty("rule").GetString());

        // Before, the API's own 403 was the one client_blocked answer of the edge with no record.
        var record = await edge.LocalAuditDataAsync(blocked.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal((403, "deny", "threat", "client_blocked:guessing", "_edge/approvals"), (record.GetProperty("status").GetInt32(),
            record.GetProperty("decision").GetString(), record.GetProperty("step").GetString(), record.GetProperty("reason").GetString(), record.GetProperty("route").GetString()));
    }

    [Fact]
    public async Task Unmatched_PathsScannedUnderPrefix_CountNotFoundAndBannedClientGetsClientBlocked()
    {
        using var backend = Backend.Start();
        await using var edge = await StartWithRuleAsync(backend.Url, "scan", "NotFound");

        // Before, anything under /_edge/approvals that no endpoint took was answered 404 outside the edge's gate: no
        // request id, no ban check, no count, so a scanner walked this prefix unseen and a banned client was still answered.
        for (var i = 0; i < 3; i++)
        {
            using var missing = await edge.Client.GetAsync("/_edge/approvals/admin/.env" + i);
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal("not_found", ApprovalEdge.Code(await ApprovalEdge.JsonAsync(missing)));
            Assert.True(missing.Headers.Contains("X-Request-Id"));
        }

        using var blocked = await edge.Client.GetAsync("/_edge/approvals/admin/.env");
        using var blockedMethod = await edge.Client.GetAsync("/_edge/approvals/some-id/approve");

        await AssertClientBlockedAsync(blocked, blockedMethod);
        Assert.Equal("scan", (await SingleBanAsync(edge)).GetProperty("rule").GetString());
        var record = await edge.LocalAuditDataAsync(blocked.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal(403, record.GetProperty("status").GetInt32());
        Assert.Equal("client_blocked:scan", record.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Page_BannedClient_GetsClientBlockedRecordedForEveryFile()
    {
        using var backend = Backend.Start();
        await using var edge = await StartWithRuleAsync(backend.Url, "scan", "NotFound");
        using (var served = await edge.Client.GetAsync("/_edge/approvals/ui/app.js"))
        {
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        }

        for (var i = 0; i < 3; i++)
        {
            using var missing = await edge.Client.GetAsync("/_edge/approvals/admin/.env" + i);
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        // Before, the page's files (and the redirect to its index) were the one answer a banned client still got.
        using var index = await edge.Client.GetAsync("/_edge/approvals/ui/");
        using var script = await edge.Client.GetAsync("/_edge/approvals/ui/app.js");
        using var redirect = await edge.Client.GetAsync("/_edge/approvals/ui");
        using var missingFile = await edge.Client.GetAsync("/_edge/approvals/ui/nothing.js");

        await AssertClientBlockedAsync(index, script, redirect, missingFile);
        Assert.Equal("no-store", index.Headers.CacheControl?.ToString());
        var record = await edge.LocalAuditDataAsync(script.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal(403, record.GetProperty("status").GetInt32());
        Assert.Equal("client_blocked:scan", record.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("{principal}", "bob")]
    [InlineData("{tenant}:{ip}", "acme:127.0.0.1")]
    public async Task SignIn_ApproverBannedByAKeyAfterAuthentication_403ClientBlockedAndNothingDecided(string ruleKey, string banned)
    {
        using var backend = Backend.Start();
        await using var edge = await StartWithRuleAsync(backend.Url, "abuse", "Forbidden", ruleKey);
        var id = await ApprovalEdge.RequestApprovalAsync(edge.Client);
        using (var ban = await edge.Management.PostAsJsonAsync("/edge/bans", new { key = banned, @for = "00:05:00", reason = "test" }))
        {
            Assert.Equal(HttpStatusCode.Created, ban.StatusCode);
        }

        // Before, a principal banned on every route still listed, approved and rejected here: the API checked only the
        // keys known before sign-in ({ip}), never those of the signed-in approver, as a route does right after EdgeAuthenticate.
        using var list = await edge.Client.SendAsync(ApprovalEdge.Api(HttpMethod.Get, "/_edge/approvals", ApprovalEdge.BobKey));
        using var approve = await edge.Client.SendAsync(ApprovalEdge.Api(HttpMethod.Post, $"/_edge/approvals/{id}/approve", ApprovalEdge.BobKey));
        using var reject = await edge.Client.SendAsync(ApprovalEdge.Api(HttpMethod.Post, $"/_edge/approvals/{id}/reject", ApprovalEdge.BobKey));
        using var otherTenant = await edge.Client.SendAsync(ApprovalEdge.Api(HttpMethod.Get, "/_edge/approvals", ApprovalEdge.GretaKey));

        await AssertClientBlockedAsync(list, approve, reject);
        Assert.Equal(HttpStatusCode.OK, otherTenant.StatusCode);
        using (var unban = await edge.Management.DeleteAsync("/edge/bans/" + banned))
        {
            Assert.Equal(HttpStatusCode.NoContent, unban.StatusCode);
        }

        using var shown = await edge.Client.SendAsync(ApprovalEdge.Api(HttpMethod.Get, $"/_edge/approvals/{id}", ApprovalEdge.BobKey));
        Assert.Equal("pending", (await ApprovalEdge.JsonAsync(shown)).GetProperty("status").GetString());
    }

    /// <summary>The approval edge with one ban rule keyed on <c>{ip}</c> that bans at the third <paramref name="on"/> event.</summary>
    private static Task<EdgeHost> StartWithRuleAsync(string backendUrl, string rule, string on, string key = "{ip}")
    {
        var config = JsonNode.Parse(ApprovalEdge.Create(backendUrl))!;
        config["Edge"]!["ThreatProtection"] = JsonSerializer.SerializeToNode(new
        {
            Rules = new Dictionary<string, object>
            {
                [rule] = new { On = new[] { on }, Key = key, Threshold = 3, Window = "00:01:00", BanFor = "00:05:00" },
            },
        });
        return EdgeHost.StartAsync(config.ToJsonString());
    }

    private static async Task AssertClientBlockedAsync(params HttpResponseMessage[] responses)
    {
        foreach (var response in responses)
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("client_blocked", ApprovalEdge.Code(await ApprovalEdge.JsonAsync(response)));
            Assert.True(response.Headers.Contains("Retry-After"));
        }
    }

    private static async Task<JsonElement> SingleBanAsync(EdgeHost edge)
    {
        using var list = JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/bans"));
        return Assert.Single(list.RootElement.GetProperty("bans").EnumerateArray()).Clone();
    }
}
