namespace Edge.FunctionalTests.RateLimiting;

/// <summary>
/// Tests that drive two edges at saturation and count fallbacks run alone, after the rest of this assembly: the limiter
/// cannot tell a Redis node from a host so oversubscribed that redis-server or the client's reader is not scheduled for
/// a whole deadline (docs/rate-limiting.md, "known limit on a starved host"), and the other classes' edges, browsers and
/// databases on the same two cores made that happen in a clean-clone CI run. Nothing is asserted on time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SustainedLoadCollection
{
    public const string Name = "Sustained load, alone";
}
