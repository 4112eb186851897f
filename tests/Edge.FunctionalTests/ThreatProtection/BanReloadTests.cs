using System.Net;
using Edge.FunctionalTests.Configuration;
using Edge.Proxy.ThreatProtection;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.FunctionalTests.ThreatProtection;

/// <summary>Bans and the counts towards them across edits of proxy.json that do not touch the rule.</summary>
public sealed class BanReloadTests
{
    [Fact]
    public async Task Reload_UnrelatedEdits_CountsTowardsABanAndTheBanItselfSurvive()
    {
        using var backend = Backend.Start();
        string Config(bool extra)
        {
            var routes = new Dictionary<string, object> { ["kept"] = ProxyJson.Route("/kept/{**rest}") };
            if (extra)
            {
                routes["extra"] = ProxyJson.Route("/extra/{**rest}");
            }

            return ProxyJson.Create(backend.Url, routes, new
            {
                ThreatProtection = new { Rules = new Dictionary<string, object> { ["scan"] = new { On = "NotFound", Key = "{ip}", Threshold = 4, Window = "01:00:00", BanFor = "01:00:00" } } },
            });
        }

        await using var edge = await EdgeHost.StartAsync(Config(extra: false));
        for (var i = 0; i < 3; i++)
        {
            using var notFound = await edge.Client.GetAsync("/nope");
            Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        }

        // Three of four counted; an edit of another route must not start the count again.
        await edge.WriteConfigAsync(Config(extra: true));
        await ConcurrentReloadTests.WaitForRevisionAsync(edge, 2);
        using (var fourth = await edge.Client.GetAsync("/nope"))
        {
            Assert.Equal(HttpStatusCode.NotFound, fourth.StatusCode);
        }

        using (var banned = await edge.Client.GetAsync("/kept/x"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, banned.StatusCode);
        }

        await edge.WriteConfigAsync(Config(extra: false));
        await ConcurrentReloadTests.WaitForRevisionAsync(edge, 3);
        using var stillBanned = await edge.Client.GetAsync("/kept/x");
        Assert.Equal(HttpStatusCode.Forbidden, stillBanned.StatusCode);
        Assert.Contains("client_blocked", await stillBanned.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Reload_RuleRenamed_TheRemovedRulesCountsAreDropped(bool inLetterCaseOnly)
    {
        // A rule removed from proxy.json must not keep its counts (up to 100,000 keys each) for the life of the process,
        // also when it was renamed in letter case only (the counts are kept by the exact name).
        string Name(int edit) => inLetterCaseOnly ? (edit % 2 == 0 ? "scan" : "Scan") : $"scan{edit}";
        using var backend = Backend.Start();
        string Config(string rule) => ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["kept"] = ProxyJson.Route("/kept/{**rest}") }, new
        {
            ThreatProtection = new { Rules = new Dictionary<string, object> { [rule] = new { On = "NotFound", Key = "{ip}", Threshold = 1000, Window = "01:00:00", BanFor = "01:00:00" } } },
        });

        await using var edge = await EdgeHost.StartAsync(Config(Name(0)));
        var monitor = edge.Services.GetRequiredService<ThreatMonitor>();
        for (var i = 1; i <= 4; i++)
        {
            using (var notFound = await edge.Client.GetAsync("/nope"))
            {
                Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
            }

            await edge.WriteConfigAsync(Config(Name(i)));
            await ConcurrentReloadTests.WaitForRevisionAsync(edge, i + 1);
        }

        using (var last = await edge.Client.GetAsync("/nope"))
        {
            Assert.Equal(HttpStatusCode.NotFound, last.StatusCode);
        }

        // The status names a revision as soon as YARP serves it; the counts are dropped just after, by the same reload.
        await RateLimiting.RateLimitRoutes.WaitUntilAsync(() => Task.FromResult(monitor.CountedRules), count => count == 1, "one rule's counts left");
    }
}
