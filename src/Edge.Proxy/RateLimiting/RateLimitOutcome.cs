using System.Numerics;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// What one rate-limit decision does to its request, the same for the ordered <c>EdgeRateLimit</c> step and a route's
/// <c>RateLimiterPolicy</c>: the audited outcome, the rate-limit headers (set when the response starts, so a backend
/// cannot override them), and on a refusal the 429 or 503 denial that <see cref="EdgeDecisions"/> records and writes.
/// </summary>
internal static class RateLimitOutcome
{
    public const string LimitedCode = RateLimitCodes.Limited;
    public const string UnavailableCode = RateLimitCodes.Unavailable;

    /// <summary>Applies <paramref name="decision"/> to the request; returns the denial when it was refused.</summary>
    /// <param name="oneOfSeveral">
    /// The route runs more than one rate-limit step: the response then reports the most restrictive decision (see
    /// <see cref="ReportedHeaders"/>) instead of whichever step's headers happened to be written last.
    /// </param>
    public static EdgeDenial? Apply(HttpContext http, RateLimitPolicy policy, in RateLimitDecision decision, TimeProvider time, bool oneOfSeveral = false)
    {
        var now = time.GetUtcNow();
        // Several decisions on one request (several steps, or a route's RateLimiterPolicy and a step): a refusal is the
        // answer and is audited as such; an admission does not replace an earlier one the outage mode made, or a
        // request admitted without a policy's shared count (even Open, unbounded) was audited as "allowed" by Redis.
        if (!decision.Admitted || decision.IsFallback || http.Features.Get<EdgeRateLimitFeature>() is not { FallbackReason: not null })
        {
            http.Features.Set(EdgeRateLimitFeature.For(decision.Outcome, decision.FallbackReasonTag));
        }

        if (oneOfSeveral)
        {
            // A policy with Headers None stays hidden while it admits; when it refuses, the 429 carries no other
            // policy's count, which would contradict it.
            if (!decision.Admitted || RateLimitHeaders.Any(policy))
            {
                ReportedHeaders.Offer(http, policy, decision, now, time);
            }
        }
        else if (RateLimitHeaders.Any(policy))
        {
            // A reused state object and a static callback: the headers are formatted when the response starts.
            http.Response.OnStarting(static state => ((PendingHeaders)state).WriteAsync(), PendingHeaders.Rent(http.Response, policy, decision, now, time));
        }

        return decision.Admitted ? null : Denial(policy.Name, decision);
    }

    private static EdgeDenial Denial(string policyName, in RateLimitDecision decision)
    {
        var retryAfter = RateLimitHeaders.RetryAfterValue(decision.RetryAfter);
        var retryHeaders = new Dictionary<string, string> { [RateLimitHeaders.RetryAfter] = retryAfter };
        if (decision.Source == RateLimitDecisionSource.FallbackClosed)
        {
            return new EdgeDenial(StatusCodes.Status503ServiceUnavailable, UnavailableCode, "Rate limit unavailable",
                "The rate limit of this route cannot be checked right now; retry later.")
            {
                Reason = UnavailableCode + ":redis_unavailable",
                Headers = retryHeaders,
            };
        }

        return new EdgeDenial(StatusCodes.Status429TooManyRequests, LimitedCode, "Too many requests",
            $"Rate limit {policyName} is exhausted; retry after {retryAfter} s.")
        {
            // Code first, like every reason: the record says which answer the client got, then why.
            Reason = decision.IsFallback ? LimitedCode + ":local_fallback" : LimitedCode,
            Headers = retryHeaders,
        };
    }

    /// <summary>
    /// The headers of one decision until its response starts. Reused: one per processor slot is kept after it wrote its
    /// headers (an object per decision otherwise). One whose response never starts is simply left to the collector,
    /// so an object is never in two requests at once.
    /// </summary>
    private sealed class PendingHeaders
    {
        private static readonly PendingHeaders?[] s_free = new PendingHeaders?[Math.Max(1, (int)BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount))];

        private HttpResponse? _response;
        private RateLimitPolicy? _policy;
        private RateLimitDecision _decision;
        private DateTimeOffset _decidedAt;
        private TimeProvider? _time;

        public static PendingHeaders Rent(HttpResponse response, RateLimitPolicy policy, in RateLimitDecision decision, DateTimeOffset decidedAt, TimeProvider time)
        {
            var pending = Interlocked.Exchange(ref s_free[Thread.GetCurrentProcessorId() & (s_free.Length - 1)], null) ?? new PendingHeaders();
            pending._response = response;
            pending._policy = policy;
            pending._decision = decision;
            pending._decidedAt = decidedAt;
            pending._time = time;
            return pending;
        }

        public Task WriteAsync()
        {
            RateLimitHeaders.Write(_response!.Headers, _policy!, _decision, _decidedAt, _time!.GetUtcNow());
            (_response, _policy, _decision, _time) = (null, null, default, null);
            Volatile.Write(ref s_free[Thread.GetCurrentProcessorId() & (s_free.Length - 1)], this);
            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// The one decision a response reports when its route has several rate-limit steps: the refusing one, else the one
    /// with the fewest tokens left, in that policy's header style. Each step writing its own headers left the response
    /// with the first step's (response-start callbacks run last-registered first), so a route limited by a small policy
    /// after a large one answered 429 with <c>X-RateLimit-Remaining: 96</c> of the large one, and a client could never
    /// see the binding limit coming. Only routes with several steps pay for this object.
    /// </summary>
    private sealed class ReportedHeaders(HttpResponse response, RateLimitPolicy policy, RateLimitDecision decision, DateTimeOffset decidedAt, TimeProvider time)
    {
        private RateLimitPolicy _policy = policy;
        private RateLimitDecision _decision = decision;
        private DateTimeOffset _decidedAt = decidedAt;

        public static void Offer(HttpContext http, RateLimitPolicy policy, in RateLimitDecision decision, DateTimeOffset decidedAt, TimeProvider time)
        {
            if (http.Features.Get<ReportedHeaders>() is { } reported)
            {
                if (MoreRestrictive(decision, reported._decision))
                {
                    (reported._policy, reported._decision, reported._decidedAt) = (policy, decision, decidedAt);
                }

                return;
            }

            var created = new ReportedHeaders(http.Response, policy, decision, decidedAt, time);
            http.Features.Set(created);
            http.Response.OnStarting(static state => ((ReportedHeaders)state).WriteAsync(), created);
        }

        private Task WriteAsync()
        {
            RateLimitHeaders.Write(response.Headers, _policy, _decision, _decidedAt, time.GetUtcNow());
            return Task.CompletedTask;
        }

        // A refusal binds; otherwise fewer tokens left binds sooner. Unknown remaining (an outage mode that only knows
        // the limit) binds least.
        private static bool MoreRestrictive(in RateLimitDecision candidate, in RateLimitDecision current) =>
            current.Admitted && (!candidate.Admitted || (candidate.Remaining ?? long.MaxValue) < (current.Remaining ?? long.MaxValue));
    }
}
