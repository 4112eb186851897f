using System.Text;
using Edge.Proxy.Pipeline;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Webhooks;

/// <summary>
/// Verifies a delivery against its policy over the buffered raw body: signature, timestamp window, then an atomic
/// first-seen check of the delivery id. The body's JSON (a delivery id pointer) is read through the request's
/// <see cref="EdgeBodyFeature"/>, which parses it once for every step of the request.
/// </summary>
internal sealed partial class WebhookStep(
    WebhookPolicy policy,
    string routeId,
    WebhookReplayStore replay,
    WebhookMetrics metrics,
    TimeProvider time,
    ILogger logger) : IEdgeStep, IEdgeHeaderCheck
{
    private const int MaxChallengeLength = 256;

    private static readonly long UnixEpochTicks = DateTime.UnixEpoch.Ticks;

    // A timestamp has at most 12 digits; beyond year 9999 it is simply in the future (and its ticks would overflow).
    private static readonly long MaxUnixSeconds = (DateTime.MaxValue.Ticks - UnixEpochTicks) / TimeSpan.TicksPerSecond;

    private readonly string _scheme = policy.Scheme.ToString();

    // A configured name with '_' (a Generic SignatureHeader) has a '-' alias the request middleware does not flag.
    private readonly bool _signedNameHasUnderscore = policy.Verifier.SignedHeaders.Any(h => h.Contains('_', StringComparison.Ordinal));

    private bool IsSubscribeHandshake(HttpContext http) => policy.Scheme == WebhookScheme.Meta && HttpMethods.IsGet(http.Request.Method);

    public EdgeStepResult CheckHeaders(EdgeStepContext context)
    {
        var http = context.HttpContext;

        // Meta's subscribe handshake carries no signature; the step answers it whole.
        if (IsSubscribeHandshake(http))
        {
            return EdgeStepResult.Continue;
        }

        return policy.Verifier.MissingSignature(http.Request.Headers) is { } missing
            ? Fail(http, StatusCodes.Status401Unauthorized, missing.Code!, "Signature missing", missing.Reason!)
            : EdgeStepResult.Continue;
    }

    public async ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context)
    {
        var request = context.Request;
        var http = context.HttpContext;

        if (IsSubscribeHandshake(http))
        {
            return AnswerSubscribeHandshake(context);
        }

        if (http.GetBody() is not { } body)
        {
            // The buffering middleware runs for every route with this step; reaching here means the pipeline is miswired.
            return Fail(http, StatusCodes.Status500InternalServerError, "edge_pipeline_error", "Edge pipeline error", "edge_pipeline_error:body_not_buffered");
        }

        var outcome = policy.Verifier.Verify(http.Request.Headers, body.Body.Span);
        if (!outcome.IsValid)
        {
            return outcome.Code == WebhookCodes.SignatureMissing
                ? Fail(http, StatusCodes.Status401Unauthorized, outcome.Code, "Signature missing", outcome.Reason!)
                : Fail(http, StatusCodes.Status401Unauthorized, outcome.Code!, "Signature invalid", outcome.Reason!);
        }

        // X_GitHub_Delivery is X-GitHub-Delivery to a backend that maps names to CGI variables (PHP, WSGI, Rack), and the
        // edge read only the dashed one: an underscore spelling of a header the verification reads is a second copy.
        if ((_signedNameHasUnderscore || http.GetEdgeRequest() is not { HasUnderscoreHeaderName: false }) && HasUnderscoreAlias(http.Request.Headers))
        {
            return Fail(http, StatusCodes.Status401Unauthorized, WebhookCodes.SignatureInvalid, "Signature invalid", WebhookCodes.SignatureInvalid + ":header_alias");
        }

        if (policy.HasTimestamp && outcome.Timestamp is { } timestamp)
        {
            // To the tick: truncated to whole seconds, the window spanned up to 2 × Tolerance + 1 s, longer than a
            // ReplayTtl just over 2 × Tolerance remembers the id.
            var now = time.GetUtcNow().UtcTicks;
            var signed = UnixEpochTicks + (Math.Min(timestamp, MaxUnixSeconds) * TimeSpan.TicksPerSecond);
            var tolerance = policy.Options.Tolerance.Ticks;
            if (signed < now - tolerance || signed > now + tolerance)
            {
                var reason = WebhookCodes.TimestampOutOfWindow + (signed < now ? ":too_old" : ":in_future");
                return Fail(http, StatusCodes.Status401Unauthorized, WebhookCodes.TimestampOutOfWindow, "Timestamp out of window", reason);
            }
        }

        if (policy.Options.ReplayProtection)
        {
            var deliveryId = policy.DeliveryIdPointer is { } pointer ? body.ReadScalar(pointer) : outcome.DeliveryId;
            if (deliveryId is null && policy.HasDeliveryId)
            {
                return Fail(http, StatusCodes.Status400BadRequest, WebhookCodes.DeliveryIdMissing, "Delivery id missing", WebhookCodes.DeliveryIdMissing);
            }

            var reject = string.Equals(policy.Options.OnRedisUnavailable, "Reject", StringComparison.OrdinalIgnoreCase);
            ReplayHold? deliveryHold = null;
            if (deliveryId is not null)
            {
                var registration = await replay.TryRegisterAsync(policy.Name, deliveryId, policy.ReplayTtl, reject);
                if (Refusal(http, registration.Check, string.Empty) is { } replayed)
                {
                    return replayed;
                }

                deliveryHold = registration.Hold;
            }

            // The signature is reserved too unless the signed content holds both a timestamp and the delivery id (GitHub,
            // Generic leaving either out): an unsigned id or timestamp can be changed by whoever captured the delivery,
            // the signature cannot.
            ReplayHold? signatureHold = null;
            if (policy.ReservesSignature && outcome.SignatureId is { } signatureId && signatureId != deliveryId)
            {
                var registration = await replay.TryRegisterAsync(policy.Name, signatureId, policy.ReplayTtl, reject);
                if (Refusal(http, registration.Check, ":signature") is { } refused)
                {
                    if (deliveryHold is not null)
                    {
                        await replay.ReleaseAsync(new ReplayReservation(policy.Name, deliveryHold));
                    }

                    return refused;
                }

                signatureHold = registration.Hold;
            }

            if (deliveryHold is not null || signatureHold is not null)
            {
                var release = new UnacceptedDeliveryRelease(replay, new ReplayReservation(policy.Name, deliveryHold, signatureHold));
                request.RegisterCleanup(release);
                http.Response.OnStarting(release.SettleOnStartingAsync, http);
                BackendSend.Track(context.Transform.ProxyRequest, request);
            }
        }

        if (policy.Scheme == WebhookScheme.Telegram)
        {
            // Telegram's token is the shared secret itself, not a signature: like an API key, the backend gets the
            // verified delivery, never the credential (a legacy backend would log it with the other headers).
            RequestTransform.RemoveHeader(context.Transform, TelegramVerifier.TokenHeader);
        }

        http.Features.Set(new EdgeSignatureFeature(_scheme, "valid"));
        metrics.Verification(routeId, policy.Name, _scheme, "valid");
        return EdgeStepResult.Continue;
    }

    private bool HasUnderscoreAlias(IHeaderDictionary headers)
    {
        foreach (var signed in policy.Verifier.SignedHeaders)
        {
            if (HeaderName.HasUnderscoreAlias(headers, signed))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The denial for an id seen before or that cannot be checked; null when this request now holds it.</summary>
    private EdgeStepResult? Refusal(HttpContext http, ReplayCheck check, string reasonSuffix) => check switch
    {
        ReplayCheck.Duplicate => Fail(http, policy.Options.ReplayStatus, WebhookCodes.ReplayedDelivery, "Replayed delivery", WebhookCodes.ReplayedDelivery + reasonSuffix),
        // Not ReplayStatus: the first attempt may still fail, and a sender told 2xx now would never retry the lost delivery.
        ReplayCheck.InFlight => Fail(http, StatusCodes.Status409Conflict, WebhookCodes.DeliveryInFlight, "Delivery in flight", WebhookCodes.DeliveryInFlight + reasonSuffix, RetryLaterHeaders),
        ReplayCheck.Unavailable => Fail(http, StatusCodes.Status503ServiceUnavailable, WebhookCodes.ReplayStoreUnavailable, "Replay check unavailable", WebhookCodes.ReplayStoreUnavailable, RetryLaterHeaders),
        _ => null,
    };

    private EdgeStepResult AnswerSubscribeHandshake(EdgeStepContext context)
    {
        var query = context.HttpContext.Request.Query;
        var mode = query["hub.mode"];
        var token = query["hub.verify_token"];
        var challenge = query["hub.challenge"];
        var tokenMatches = false;
        if (token.Count == 1 && !string.IsNullOrEmpty(token[0]))
        {
            foreach (var expected in policy.VerifyTokens)
            {
                tokenMatches |= SignatureBytes.TokenEquals(expected, token[0]);
            }
        }

        if (mode.Count != 1 || mode[0] != "subscribe" || !tokenMatches || challenge.Count != 1 || !IsSafeChallenge(challenge[0]))
        {
            var reason = WebhookCodes.SubscribeRejected + (tokenMatches ? ":bad_request" : ":token_mismatch");
            return Fail(context.HttpContext, StatusCodes.Status403Forbidden, WebhookCodes.SubscribeRejected, "Subscription not verified", reason);
        }

        context.HttpContext.Features.Set(new EdgeSignatureFeature(_scheme, WebhookCodes.SubscribeVerified));
        metrics.Verification(routeId, policy.Name, _scheme, WebhookCodes.SubscribeVerified);
        var answer = Encoding.UTF8.GetBytes(challenge[0]!);
        // The edge answers the handshake itself: a 200 "decision" that never reaches the backend.
        return EdgeStepResult.Deny(new EdgeDenial(StatusCodes.Status200OK, WebhookCodes.SubscribeVerified, "Subscription verified")
        {
            Reason = WebhookCodes.SubscribeVerified,
            WriteBody = async http =>
            {
                http.Response.ContentType = "text/plain; charset=utf-8";
                http.Response.Headers.XContentTypeOptions = "nosniff";
                http.Response.Headers.CacheControl = "no-store";
                http.Response.ContentLength = answer.Length;
                await http.Response.Body.WriteAsync(answer, http.RequestAborted);
            },
        });
    }

    /// <summary>The challenge is echoed, so only short printable ASCII without markup is accepted.</summary>
    private static bool IsSafeChallenge(string? challenge) =>
        challenge is { Length: > 0 and <= MaxChallengeLength } && challenge.All(c => c is > ' ' and < '\x7f' and not '<' and not '>' and not '&' and not '"' and not '\'');

    // Both retryable refusals (in flight, store unavailable) say when to come back, like the edge's other
    // store-unavailable 503s (approvals, bans): the first attempt's answer (or its release) usually comes within
    // seconds, and a sender's retry policy may honour it. A sender's own backoff may be longer.
    private static readonly IReadOnlyDictionary<string, string> RetryLaterHeaders = new Dictionary<string, string> { ["Retry-After"] = "5" };

    private EdgeStepResult Fail(HttpContext http, int status, string code, string title, string reason, IReadOnlyDictionary<string, string>? headers = null)
    {
        http.Features.Set(new EdgeSignatureFeature(_scheme, reason));
        metrics.Verification(routeId, policy.Name, _scheme, reason);
        Log.Rejected(logger, routeId, policy.Name, reason);
        return EdgeStepResult.Deny(new EdgeDenial(status, code, title, Detail(code)) { Reason = reason, Headers = headers });
    }

    // Client-facing details are fixed sentences: they never echo the expected signature or any key material.
    private string Detail(string code) => code switch
    {
        WebhookCodes.SignatureMissing => $"The delivery carries no {_scheme} signature.",
        WebhookCodes.SignatureInvalid => $"The {_scheme} signature does not verify.",
        WebhookCodes.TimestampOutOfWindow => $"The signed timestamp is more than {(long)policy.Options.Tolerance.TotalSeconds} s away from the edge's clock.",
        WebhookCodes.ReplayedDelivery => "This delivery was already accepted.",
        WebhookCodes.DeliveryInFlight => "An earlier attempt of this delivery has not been answered yet; retry later.",
        WebhookCodes.DeliveryIdMissing => "The delivery carries no id, so it cannot be checked for replay.",
        WebhookCodes.ReplayStoreUnavailable => "The replay check is unavailable; retry later.",
        WebhookCodes.SubscribeRejected => "The subscription request is not verified.",
        _ => "The delivery was refused.",
    };

    private static partial class Log
    {
        [LoggerMessage(1400, LogLevel.Debug, "Webhook delivery on route {Route} refused by policy {Policy}: {Reason}")]
        public static partial void Rejected(ILogger logger, string route, string policy, string reason);
    }
}
