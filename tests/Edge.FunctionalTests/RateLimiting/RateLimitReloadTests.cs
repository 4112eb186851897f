using System.Net;
using Edge.Proxy.RateLimiting;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.FunctionalTests.RateLimiting;

public sealed class RateLimitReloadTests
{
    [Fact]
    public async Task EdgeRateLimit_ReloadWithSamePolicy_KeepsBuckets_ChangedPolicy_AppliesNewLimit()
    {
        using var backend = Backend.Start();
        var policies = new Dictionary<string, object> { ["p"] = new { Limit = 1, Window = "01:00:00" } };
        await using var edge = await EdgeHost.StartAsync(RateLimitRoutes.Config(backend.Url, policies));
        using var first = await edge.Client.SendAsync(RateLimitRoutes.Get());
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        // Same policy, one more route: steps are rebuilt but the bucket survives, so acme stays limited.
        var withExtraRoute = RateLimitRoutes.Config(backend.Url, policies).Replace("\"Routes\": {", "\"Routes\": { \"extra\": { \"ClusterId\": \"backend\", \"Match\": { \"Path\": \"/extra/{**rest}\" } },", StringComparison.Ordinal);
        await edge.WriteConfigAsync(withExtraRoute);
        await RateLimitRoutes.WaitUntilAsync(async () => (await edge.Client.GetAsync("/extra/x")).StatusCode, s => s == HttpStatusCode.OK, "extra route served");
        using var afterReload = await edge.Client.SendAsync(RateLimitRoutes.Get());
        Assert.Equal(HttpStatusCode.TooManyRequests, afterReload.StatusCode);

        // A changed limit takes effect on the next reload, on what acme has used (1 of now 5), as with Redis.
        await edge.WriteConfigAsync(RateLimitRoutes.Config(backend.Url, new Dictionary<string, object> { ["p"] = new { Limit = 5, Window = "01:00:00" } }));
        var changed = await RateLimitRoutes.WaitUntilAsync(
            () => edge.Client.SendAsync(RateLimitRoutes.Get()),
            r => RateLimitRoutes.Header(r, "X-RateLimit-Limit") == "5",
            "new limit applied");
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal("3", RateLimitRoutes.Header(changed, "X-RateLimit-Remaining"));
        changed.Dispose();

        // A tenant that never spent anything gets the new Burst.
        for (var i = 0; i < 5; i++)
        {
            using var other = await edge.Client.SendAsync(RateLimitRoutes.Get("globex"));
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }
    }

    [Fact]
    public async Task EdgeRateLimit_PolicyEditedAfterBucketSpent_KeepsTheSpentBucketNotAFreshOne()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(RateLimitRoutes.Config(backend.Url, new Dictionary<string, object> { ["p"] = new { Limit = 2, Window = "01:00:00" } }));
        for (var i = 0; i < 2; i++)
        {
            using var admitted = await edge.Client.SendAsync(RateLimitRoutes.Get());
            Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        }

        // An edit that only changes how the headers look must not give acme its limit back.
        await edge.WriteConfigAsync(RateLimitRoutes.Config(backend.Url, new Dictionary<string, object> { ["p"] = new { Limit = 2, Window = "01:00:00", Headers = "Both" } }));
        using var afterHeaders = await RateLimitRoutes.WaitUntilAsync(
            () => edge.Client.SendAsync(RateLimitRoutes.Get()),
            r => RateLimitRoutes.Header(r, "RateLimit-Policy") is not null,
            "header edit applied");
        Assert.Equal(HttpStatusCode.TooManyRequests, afterHeaders.StatusCode);
        Assert.Equal("0", RateLimitRoutes.Header(afterHeaders, "X-RateLimit-Remaining"));

        // Nor does a lowered limit: the spent bucket stays spent under the new Limit.
        await edge.WriteConfigAsync(RateLimitRoutes.Config(backend.Url, new Dictionary<string, object> { ["p"] = new { Limit = 1, Window = "01:00:00", Headers = "Both" } }));
        using var afterLimit = await RateLimitRoutes.WaitUntilAsync(
            () => edge.Client.SendAsync(RateLimitRoutes.Get()),
            r => RateLimitRoutes.Header(r, "X-RateLimit-Limit") == "1",
            "limit edit applied");
        Assert.Equal(HttpStatusCode.TooManyRequests, afterLimit.StatusCode);

        // Changing the algorithm starts fresh, as it does in Redis (new keys).
        await edge.WriteConfigAsync(RateLimitRoutes.Config(backend.Url, new Dictionary<string, object> { ["p"] = new { Limit = 1, Window = "01:00:00", Headers = "Both", Algorithm = "Gcra" } }));
        using var afterAlgorithm = await RateLimitRoutes.WaitUntilAsync(
            () => edge.Client.SendAsync(RateLimitRoutes.Get()),
            r => r.StatusCode == HttpStatusCode.OK,
            "algorithm edit starts a fresh bucket");
        Assert.Equal("0", RateLimitRoutes.Header(afterAlgorithm, "X-RateLimit-Remaining"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EdgeRateLimit_PolicyRenamedByEdits_OnlyTheServingPolicyKeepsALimiter(bool inLetterCaseOnly)
    {
        // A policy removed from proxy.json must not keep its limiter and every bucket it filled for the life of the process,
        // also when it was renamed in letter case only (the limiters are kept by the exact name).
        string Name(int edit) => inLetterCaseOnly ? (edit % 2 == 0 ? "tenant" : "Tenant") : $"p{edit}";
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(RateLimitRoutes.Config(backend.Url, new Dictionary<string, object> { [Name(0)] = new { Limit = 5, Window = "01:00:00" } }, policy: Name(0)));
        var registry = edge.Services.GetRequiredService<RateLimiterRegistry>();
        for (var i = 1; i <= 4; i++)
        {
            using (var response = await edge.Client.SendAsync(RateLimitRoutes.Get()))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            await edge.WriteConfigAsync(RateLimitRoutes.Config(backend.Url, new Dictionary<string, object> { [Name(i)] = new { Limit = 5, Window = "01:00:00" } }, policy: Name(i)));
            await Configuration.ConcurrentReloadTests.WaitForRevisionAsync(edge, i + 1);
        }

        using (var last = await edge.Client.SendAsync(RateLimitRoutes.Get()))
        {
            Assert.Equal(HttpStatusCode.OK, last.StatusCode);
        }

        // The status names a revision as soon as YARP serves it; the limiters are dropped just after, by the same reload.
        await RateLimitRoutes.WaitUntilAsync(() => Task.FromResult(registry.Count), count => count == 1, "one limiter left");
        Assert.NotNull(registry.Find(Name(4)));
    }
}
