using System.Threading.RateLimiting;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// A lease carrying the decision as metadata: <see cref="MetadataName.RetryAfter"/> plus the limit, the remaining
/// count and the time until the bucket is full again.
/// </summary>
internal sealed class EdgeRateLimitLease(RateLimitDecision decision) : RateLimitLease
{
    public static readonly MetadataName<int> Limit = MetadataName.Create<int>("RATELIMIT_LIMIT");
    public static readonly MetadataName<long> Remaining = MetadataName.Create<long>("RATELIMIT_REMAINING");
    public static readonly MetadataName<TimeSpan> Reset = MetadataName.Create<TimeSpan>("RATELIMIT_RESET");

    /// <summary>Set when <see cref="RateLimiter.AttemptAcquire"/> could not decide without I/O (use AcquireAsync).</summary>
    public static readonly MetadataName<bool> RequiresIo = MetadataName.Create<bool>("RATELIMIT_REQUIRES_IO");

    private readonly bool _requiresIo;

    private EdgeRateLimitLease(RateLimitDecision decision, bool requiresIo)
        : this(decision) => _requiresIo = requiresIo;

    public RateLimitDecision Decision { get; } = decision;

    public override bool IsAcquired => Decision.Admitted;

    public override IEnumerable<string> MetadataNames
    {
        get
        {
            yield return Limit.Name;
            if (Decision.Remaining is not null)
            {
                yield return Remaining.Name;
            }

            if (Decision.ResetAfter is not null)
            {
                yield return Reset.Name;
            }

            if (!Decision.Admitted)
            {
                yield return MetadataName.RetryAfter.Name;
            }

            if (_requiresIo)
            {
                yield return RequiresIo.Name;
            }
        }
    }

    internal static EdgeRateLimitLease Undecided(int limit) =>
        new(new RateLimitDecision(false, RateLimitDecisionSource.Redis, limit, null, null, TimeSpan.Zero), requiresIo: true);

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = metadataName switch
        {
            _ when metadataName == Limit.Name => Decision.Limit,
            _ when metadataName == Remaining.Name && Decision.Remaining is { } remaining => remaining,
            _ when metadataName == Reset.Name && Decision.ResetAfter is { } reset => reset,
            _ when metadataName == MetadataName.RetryAfter.Name && !Decision.Admitted && !_requiresIo => Decision.RetryAfter,
            _ when metadataName == RequiresIo.Name && _requiresIo => true,
            _ => null,
        };
        return metadata is not null;
    }
}
