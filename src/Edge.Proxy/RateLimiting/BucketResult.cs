namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The answer of one bucket operation: how many tokens were granted (0 = refused), what is left, when the bucket is
/// full again and, when refused, when the requested tokens will be available.
/// </summary>
internal readonly record struct BucketResult(int Granted, long Remaining, TimeSpan ResetAfter, TimeSpan RetryAfter)
{
    /// <summary>The bucket arithmetic shared by both algorithms and both stores (the Lua script does the same).</summary>
    public static BucketResult FromAvailable(double available, int burst, double emissionTicks, int want, int min)
    {
        var granted = (int)Math.Min(want, Math.Floor(available));
        var retry = 0L;
        if (granted < min)
        {
            granted = 0;
            retry = CeilTicks((min - available) * emissionTicks);
        }

        var after = available - granted;
        var reset = CeilTicks(Math.Max(0, burst - after) * emissionTicks);
        return new BucketResult(granted, (long)Math.Floor(after), TimeSpan.FromTicks(reset), TimeSpan.FromTicks(retry));
    }

    // Rounds up, ignoring floating-point noise far below one tick (0.05 * 2e8 must give 1e7, not 1e7 + 1).
    private static long CeilTicks(double ticks) => Math.Max(0, (long)Math.Ceiling(ticks - 0.001));
}
