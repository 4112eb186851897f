using System.Globalization;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The rate-limit response headers of one decision: legacy <c>X-RateLimit-*</c> and/or the IETF draft's
/// <c>RateLimit-Policy</c> and <c>RateLimit</c>, plus <c>Retry-After</c> on refusals.
/// </summary>
internal static class RateLimitHeaders
{
    public const string Limit = "X-RateLimit-Limit";
    public const string Remaining = "X-RateLimit-Remaining";
    public const string Reset = "X-RateLimit-Reset";
    public const string DraftPolicy = "RateLimit-Policy";
    public const string Draft = "RateLimit";
    public const string RetryAfter = "Retry-After";

    /// <summary>
    /// Sets the headers of <paramref name="decision"/>, taken at <paramref name="decidedAt"/>, on <paramref name="headers"/>
    /// as the response starts at <paramref name="now"/>.
    /// </summary>
    public static void Write(IHeaderDictionary headers, RateLimitPolicy policy, in RateLimitDecision decision, DateTimeOffset decidedAt, DateTimeOffset now)
    {
        // Deltas count from the response, not the decision: a backend that took 10 s would otherwise be reported as
        // resetting 10 s later than the epoch X-RateLimit-Reset on the same response says.
        var resetAfter = decision.ResetAfter is { } after ? after - (now - decidedAt) : (TimeSpan?)null;
        if (policy.Headers is RateLimitHeaderStyle.Legacy or RateLimitHeaderStyle.Both)
        {
            headers[Limit] = LimitText(decision.Limit);
            // A count the decision does not know (an Open or Closed outage) is removed, not left as the backend sent it:
            // a backend's own X-RateLimit-Remaining beside the edge's limit would contradict it.
            if (decision.Remaining is { } remaining)
            {
                headers[Remaining] = Format(remaining);
            }
            else
            {
                headers.Remove(Remaining);
            }

            if (resetAfter is { } reset)
            {
                headers[Reset] = Format(policy.ResetFormat == RateLimitResetFormat.Delta
                    ? CeilSeconds(reset)
                    : (long)Math.Ceiling((decidedAt + decision.ResetAfter!.Value).ToUnixTimeMilliseconds() / 1000.0));
            }
            else
            {
                headers.Remove(Reset);
            }
        }

        if (policy.Headers is RateLimitHeaderStyle.Draft or RateLimitHeaderStyle.Both)
        {
            headers[DraftPolicy] = $"\"{policy.Name}\";q={Format(decision.Limit)};w={Format(Math.Max(1, CeilSeconds(policy.Window)))}";
            if (decision.Remaining is { } remaining && resetAfter is { } reset)
            {
                headers[Draft] = $"\"{policy.Name}\";r={Format(remaining)};t={Format(CeilSeconds(reset))}";
            }
            else
            {
                headers.Remove(Draft);
            }
        }
    }

    /// <summary>True when <see cref="Write"/> would set at least one header.</summary>
    public static bool Any(RateLimitPolicy policy) => policy.Headers is not RateLimitHeaderStyle.None;

    /// <summary>Delta seconds, rounded up and never 0 (a client retrying at once would only be refused again).</summary>
    public static string RetryAfterValue(TimeSpan retryAfter) => Format(Math.Max(1, CeilSeconds(retryAfter)));

    private static long CeilSeconds(TimeSpan value) => (long)Math.Ceiling(Math.Max(0, value.TotalSeconds));

    private static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);

    // The limit is the same on every response of a policy, and the runtime keeps the text of numbers below 300 only:
    // the last limit's text is kept (several policies in turn only format again).
    private static LimitValue? s_lastLimit;

    private static string LimitText(int limit)
    {
        if (Volatile.Read(ref s_lastLimit) is { } last && last.Limit == limit)
        {
            return last.Text;
        }

        var text = Format(limit);
        Volatile.Write(ref s_lastLimit, new LimitValue(limit, text));
        return text;
    }

    private sealed record LimitValue(int Limit, string Text);
}
