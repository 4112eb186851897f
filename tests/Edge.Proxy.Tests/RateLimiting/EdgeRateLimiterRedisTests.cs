using System.Threading.RateLimiting;
using Edge.Proxy.RateLimiting;
using Edge.Testing;

namespace Edge.Proxy.Tests.RateLimiting;

public sealed class EdgeRateLimiterRedisTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task AttemptAcquire_StrictNeedsRedis_ReturnsUndecidedLeaseWithoutIo()
    {
        using var services = new RateLimitTestServices(redis.Server.ConnectionString);
        await services.WaitForRedisAsync();
        var limiter = services.Registry.GetOrCreate(RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 5 }, "attempt-strict"));

        using var lease = limiter.AttemptAcquire("t:a");

        Assert.False(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(EdgeRateLimitLease.RequiresIo, out var requiresIo) && requiresIo);
        Assert.False(lease.TryGetMetadata(MetadataName.RetryAfter, out _));
        Assert.Equal(0, limiter.RedisCalls);
    }

    [Fact]
    public async Task AttemptAcquire_AfterRedisRefused_RefusesFromCacheWithRetryAfter()
    {
        using var services = new RateLimitTestServices(redis.Server.ConnectionString);
        await services.WaitForRedisAsync();
        var limiter = services.Registry.GetOrCreate(RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 1, Window = TimeSpan.FromHours(1), DecisionDeadline = TimeSpan.FromSeconds(2) }, "attempt-cache"));
        Assert.True((await limiter.DecideAsync("t:b", 1, CancellationToken.None)).Admitted);
        var refused = await limiter.DecideAsync("t:b", 1, CancellationToken.None);
        var callsAfterRefusal = limiter.RedisCalls;

        using var lease = limiter.AttemptAcquire("t:b");

        Assert.Equal(RateLimitDecisionSource.Redis, refused.Source);
        Assert.False(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.InRange(retryAfter, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
        Assert.Equal(RateLimitDecisionSource.RefusalCache, ((EdgeRateLimitLease)lease).Decision.Source);
        Assert.Equal(callsAfterRefusal, limiter.RedisCalls);
    }

    [Fact]
    public async Task DecideAsync_LeaseOnHotKey_ClaimsBatchesAndSpendsLocally()
    {
        using var services = new RateLimitTestServices(redis.Server.ConnectionString);
        await services.WaitForRedisAsync();
        var limiter = services.Registry.GetOrCreate(RateLimitTestServices.Policy(
            new RateLimitPolicyOptions { Limit = 100_000, Window = TimeSpan.FromHours(1), Mode = "Lease", LeaseMaxBatch = 50, DecisionDeadline = TimeSpan.FromSeconds(2) }, "lease-hot"));

        var admitted = 0;
        for (var i = 0; i < 2000; i++)
        {
            if ((await limiter.DecideAsync("t:hot", 1, CancellationToken.None)).Admitted)
            {
                admitted++;
            }
        }

        Assert.Equal(2000, admitted);
        // Batches grow to LeaseMaxBatch once the rate is observed: at least 2000 / 50 claims, far below one per decision.
        Assert.InRange(limiter.RedisCalls, 2000 / 50, 2000 / 10);
    }

    [Fact]
    public async Task DecideAsync_StrictDecisionAbortedWhileQueued_TakesNoToken()
    {
        using var services = new RateLimitTestServices(redis.Server.ConnectionString);
        await services.WaitForRedisAsync();
        var limiter = services.Registry.GetOrCreate(RateLimitTestServices.Policy(
            new RateLimitPolicyOptions { Limit = 10, Window = TimeSpan.FromHours(1), DecisionDeadline = TimeSpan.FromSeconds(10) }, "strict-aborted"));
        Assert.Equal(9, (await limiter.DecideAsync("t:q", 1, CancellationToken.None)).Remaining);

        // A stopped server holds the key's call in flight, so the next decision queues behind it.
        Task<RateLimitDecision> inFlight;
        using var aborted = new CancellationTokenSource();
        redis.Server.Pause();
        try
        {
            inFlight = limiter.DecideAsync("t:q", 1, CancellationToken.None).AsTask();
            var queued = limiter.DecideAsync("t:q", 1, aborted.Token).AsTask();
            aborted.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
            Assert.False(inFlight.IsCompleted);
        }
        finally
        {
            redis.Server.Resume();
        }

        var sent = await inFlight;
        var next = await limiter.DecideAsync("t:q", 1, CancellationToken.None);

        Assert.Equal(8, sent.Remaining);
        // The aborted request's decision was never sent: 7 left, not 6.
        Assert.Equal(7, next.Remaining);
        Assert.False(next.IsFallback);
    }
}
