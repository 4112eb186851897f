using System.Diagnostics;
using System.Threading.RateLimiting;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// One partition of an Edge policy as a plain <see cref="RateLimiter"/>, for ASP.NET Core's rate-limiting middleware.
/// That middleware calls <see cref="RateLimiter.AttemptAcquire"/> first and, when it is not acquired, AcquireAsync;
/// so the synchronous attempt here never decides (it would count a refusal twice) and never performs I/O.
/// </summary>
internal sealed class EdgeKeyRateLimiter(EdgeRateLimiter limiter, string partition) : RateLimiter
{
    private long _lastUsed = Stopwatch.GetTimestamp();

    public override TimeSpan? IdleDuration => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastUsed));

    public override RateLimiterStatistics? GetStatistics() => null;

    protected override RateLimitLease AttemptAcquireCore(int permitCount) => EdgeRateLimitLease.Undecided(limiter.Policy.Limit);

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _lastUsed, Stopwatch.GetTimestamp());
        return await limiter.AcquireAsync(partition, permitCount, cancellationToken).ConfigureAwait(false);
    }
}
