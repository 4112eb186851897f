using System.Net;
using Edge.Testing;

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

        // A changed limit takes effect on the next reload.
        await edge.WriteConfigAsync(RateLimitRoutes.Config(backend.Url, new Dictionary<string, object> { ["p"] = new { Limit = 5, Window = "01:00:00" } }));
        var changed = await RateLimitRoutes.WaitUntilAsync(
            () => edge.Client.SendAsync(RateLimitRoutes.Get()),
            r => RateLimitRoutes.Header(r, "X-RateLimit-Limit") == "5",
            "new limit applied");
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        changed.Dispose();
    }
}
