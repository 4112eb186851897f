using System.Collections.Concurrent;
using System.Net;
using Edge.FunctionalTests.Configuration;
using Edge.Testing;

namespace Edge.FunctionalTests.RateLimiting;

/// <summary>
/// A policy's counters across reloads under 32 connections: edits of another route, a re-save of the same bytes and a
/// reformatted file keep what the tenant used; a raised Limit adds exactly the difference, never a fresh bucket.
/// </summary>
public sealed class RateLimitConcurrentReloadTests
{
    private const int Clients = 32;
    private const int Limit = 600;
    private const int RaisedLimit = 700;
    private const int Final = 11;
    private static readonly int[] Limits = [RaisedLimit, 650, RaisedLimit, 680, RaisedLimit];

    [Theory]
    [InlineData("in-process")]
    [InlineData("Strict")]
    [InlineData("Lease")]
    public async Task EdgeRateLimit_ReloadsUnderLoad_TenantGetsItsLimitOnceAndTheRaiseOnce(string mode)
    {
        await using var redis = mode == "in-process" ? null : await RedisServer.StartAsync();
        using var backend = Backend.Start();
        string Config(int limit, bool extraRoute) => RateLimitRoutes.Config(
            backend.Url,
            // Exactness is Redis's: a decision Redis leaves unanswered past the deadline goes to the local fallback, which
            // admits on its own. A starved CI host once kept Redis silent past the default 100 ms, and the fallback's
            // admissions (X-RateLimit-Limit 700 at the default LocalShare of 1) read as Redis over-admitting. A long
            // deadline keeps a busy-but-healthy Redis deciding; half the limit locally makes any fallback show.
            new Dictionary<string, object>
            {
                ["p"] = new { Limit = limit, Window = "1.00:00:00", Mode = mode == "Lease" ? "Lease" : "Strict", DecisionDeadline = "00:00:10", LocalShare = 0.5 },
            })
            .Replace("\"Routes\": {", extraRoute ? "\"Routes\": { \"extra\": { \"ClusterId\": \"backend\", \"Match\": { \"Path\": \"/extra/{**rest}\" } }," : "\"Routes\": {", StringComparison.Ordinal);
        await using var edge = await EdgeHost.StartAsync(
            Config(Limit, extraRoute: false),
            redis is null ? null : new Dictionary<string, string?> { ["Edge:Redis"] = redis.ConnectionString });

        var responses = new ConcurrentBag<(RateLimitLoad.Observed Observed, int Revision)>();
        var revision = 1;
        var refusedAfterRaise = 0;
        var load = Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = edge.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            // Until the raised limit is spent too: a few refusals sent after the raise was applied.
            while (Volatile.Read(ref refusedAfterRaise) < Clients)
            {
                var sentUnder = Volatile.Read(ref revision);
                var observed = await RateLimitLoad.SendAsync(client, "acme", "u");
                responses.Add((observed, sentUnder));
                if (sentUnder >= Final && observed.Status == HttpStatusCode.TooManyRequests)
                {
                    Interlocked.Increment(ref refusedAfterRaise);
                }
            }
        })).ToList();

        // Unrelated edits, a re-save of the same bytes and a reformatting, each applied while the clients send.
        var extra = Config(Limit, extraRoute: true);
        await edge.WriteConfigAsync(extra);
        await ConcurrentReloadTests.WaitForRevisionAsync(edge, 2);
        await edge.WriteConfigAsync(extra);
        // Other bytes, the same config: a revision of its own, whose steps YARP keeps.
        await edge.WriteConfigAsync(extra.Replace("\n", "\n  ", StringComparison.Ordinal));
        await ConcurrentReloadTests.WaitForRevisionAsync(edge, 3);
        await edge.WriteConfigAsync(Config(Limit, extraRoute: false));
        await ConcurrentReloadTests.WaitForRevisionAsync(edge, 4);
        await edge.WriteConfigAsync(extra);
        await ConcurrentReloadTests.WaitForRevisionAsync(edge, 5);
        await edge.WriteConfigAsync(Config(Limit, extraRoute: false));
        await ConcurrentReloadTests.WaitForRevisionAsync(edge, 6);

        // Then the Limit raised, lowered and raised again while requests of each previous config are still in flight.
        var next = 7;
        foreach (var limit in Limits)
        {
            await edge.WriteConfigAsync(Config(limit, extraRoute: false));
            await ConcurrentReloadTests.WaitForRevisionAsync(edge, next++);
        }

        // Applied is said a little before every new request is answered by the new steps (see the report of this
        // branch): the raise counts from when a fresh tenant sees it.
        using (var probe = await RateLimitRoutes.WaitUntilAsync(
            () => edge.Client.SendAsync(RateLimitRoutes.Get("probe")), r => RateLimitRoutes.Header(r, "X-RateLimit-Limit") == RaisedLimit.ToString(), "raise served"))
        {
        }

        Volatile.Write(ref revision, Final);
        await Task.WhenAll(load);

        var all = responses.Select(r => r.Observed).ToList();

        Assert.All(all, r => Assert.True(
            r.Status == HttpStatusCode.OK || (r.Status == HttpStatusCode.TooManyRequests && r.Code == "rate_limited"), $"{(int)r.Status} {r.Code}"));
        var admitted = all.Where(r => r.Status == HttpStatusCode.OK).ToList();
        Assert.All(admitted, r => Assert.Contains(int.Parse(r.Limit!), Limits.Append(Limit)));
        Assert.All(responses.Where(r => r.Revision >= Final), r => Assert.Equal(RaisedLimit.ToString(), r.Observed.Limit));
        if (mode == "Lease")
        {
            // Lease tokens claimed ahead under the old settings may be dropped, never spent twice.
            Assert.InRange(admitted.Count, 1, RaisedLimit);
        }
        else
        {
            // Exact: every admission used one distinct unit of the tenant's budget, and none came back on a reload.
            Assert.Equal(RaisedLimit, admitted.Count);
            var used = admitted.Select(r => int.Parse(r.Limit!) - int.Parse(r.Remaining!)).ToList();
            Assert.Equal(Enumerable.Range(1, RaisedLimit), used.Order());
        }

        Assert.All(all.Where(r => r.Status == HttpStatusCode.TooManyRequests), r => Assert.Equal("0", r.Remaining));
    }
}
