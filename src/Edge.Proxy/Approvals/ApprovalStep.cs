using System.Globalization;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Approvals;

/// <summary>
/// Holds a request until a human approved exactly this request. Without a token the request is recorded as pending and
/// answered 428 with its approval id; the retry with the token is forwarded once the store has checked and consumed the
/// token in one atomic step. The token header never reaches the backend.
/// </summary>
internal sealed partial class ApprovalStep(
    ApprovalPolicy policy,
    string routeId,
    IApprovalStore store,
    ApprovalEvents events,
    ApprovalNotifier notifier,
    TimeProvider time,
    ILogger logger) : IEdgeStep
{
    // At most one 1903 and one 1907 line a minute per route: each request on the route meets the outage or the full store.
    private readonly LogWindow _unavailableLog = new(TimeSpan.FromMinutes(1));
    private readonly LogWindow _fullLog = new(TimeSpan.FromMinutes(1));

    public async ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context)
    {
        var http = context.HttpContext;
        var tokens = http.Request.Headers[policy.Options.Header];
        RequestTransform.RemoveHeader(context.Transform, policy.Options.Header);

        if (http.GetIdentity()?.Principal is not { } requester)
        {
            // Validation puts a real EdgeAuthenticate before this step; reaching here means the pipeline is miswired.
            return Fail(StatusCodes.Status500InternalServerError, "edge_pipeline_error", "Edge pipeline error", "The edge pipeline is misconfigured.", "edge_pipeline_error:no_identity");
        }

        if (http.GetBody() is not { } body)
        {
            return Fail(StatusCodes.Status500InternalServerError, "edge_pipeline_error", "Edge pipeline error", "The edge pipeline is misconfigured.", "edge_pipeline_error:body_not_buffered");
        }

        if (!events.CanRecord)
        {
            // An approval is a four-eyes control only while its trail is complete: at the spool's cap a route whose
            // audit is optional ran this step and dropped the requested and consumed records. Checked before anything
            // is opened or consumed, whatever the route's audit mode, like the approvals API's decisions.
            return Unavailable(EdgeRequestMiddleware.AuditUnavailableCode, "Audit unavailable",
                "The audit trail cannot record this approval step right now; nothing was opened or consumed. Retry later.", retryAfter: "5");
        }

        var request = http.Request;
        var tenant = http.GetTenant()?.Tenant;
        var query = request.QueryString.Value ?? "";
        var path = request.Path.Value ?? "/";
        var bodySha256 = ApprovalFingerprint.BodySha256(body.Body.Span);
        var requestHash = ApprovalFingerprint.Compute(policy.Name, routeId, request.Method, path, query, tenant, requester, bodySha256,
            ApprovalFingerprint.ContentHeaders(request.Headers), ApprovalFingerprint.BoundHeaders(request.Headers, policy.Options.BindHeaders));
        var now = time.GetUtcNow();
        try
        {
            if (tokens.Count == 0)
            {
                return await RequireApprovalAsync(new ApprovalRequest
                {
                    Id = ApprovalToken.NewId(),
                    Policy = policy.Name,
                    Route = routeId,
                    Tenant = tenant,
                    Requester = requester,
                    Method = request.Method,
                    Path = path,
                    Query = query,
                    BodySha256 = bodySha256,
                    RequestHash = requestHash,
                    AuditKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
                    CreatedAt = now,
                    ExpiresAt = now + policy.Options.Ttl,
                }, now);
            }

            if (tokens.Count != 1 || !ApprovalToken.TryParse(tokens[0], out var id, out var tokenHash))
            {
                await events.RecordAsync(new ApprovalEvent(ApprovalEventKind.Invalid, null, policy.Name, routeId, tenant, requestHash, requester, null, requester, request.Method, path));
                return Fail(StatusCodes.Status403Forbidden, ApprovalCodes.Invalid, "Approval invalid", "The approval token is malformed.", ApprovalCodes.Invalid + ":malformed");
            }

            var (outcome, approval) = await store.ConsumeAsync(id, tokenHash, requestHash, now);
            var kind = outcome switch
            {
                ConsumeOutcome.Consumed => ApprovalEventKind.Consumed,
                ConsumeOutcome.Expired => ApprovalEventKind.Expired,
                ConsumeOutcome.Mismatch => ApprovalEventKind.Mismatch,
                ConsumeOutcome.Rejected => (ApprovalEventKind?)null,
                _ => ApprovalEventKind.Invalid,
            };
            if (kind is { } eventKind)
            {
                // Mismatch and invalid name the request that was presented, not the approved one: its tenant and route
                // too, or a principal of another tenant trying the token was recorded under the approval's tenant, out of
                // reach of an erasure in its own.
                await events.RecordAsync(approval is not null && outcome != ConsumeOutcome.Invalid
                    ? approval.ToEvent(eventKind, requester) with { RequestHash = requestHash, Route = routeId, Tenant = tenant, Method = request.Method, Path = path }
                    : new ApprovalEvent(eventKind, id, policy.Name, routeId, tenant, requestHash, requester, null, requester, request.Method, path));
            }

            return outcome switch
            {
                ConsumeOutcome.Consumed => EdgeStepResult.Continue,
                ConsumeOutcome.Expired => Fail(StatusCodes.Status403Forbidden, ApprovalCodes.Expired, "Approval expired", "The approval token has expired; request a new approval.", ApprovalCodes.Expired, id),
                ConsumeOutcome.Rejected => Fail(StatusCodes.Status403Forbidden, ApprovalCodes.Rejected, "Approval rejected", "An approver rejected this request.", ApprovalCodes.Rejected, id),
                ConsumeOutcome.Mismatch => Fail(StatusCodes.Status403Forbidden, ApprovalCodes.Mismatch, "Approval mismatch",
                    "This request differs from the approved one (method, path, query, body, tenant or requester).", ApprovalCodes.Mismatch, id),
                _ => Fail(StatusCodes.Status403Forbidden, ApprovalCodes.Invalid, "Approval invalid", "The approval token is unknown or was already used.", ApprovalCodes.Invalid),
            };
        }
        catch (ApprovalStoreFullException ex)
        {
            if (_fullLog.TryTake(time, out var unlogged))
            {
                Log.StoreFull(logger, routeId, policy.Name, ex.Capacity, unlogged);
            }

            return Unavailable(ApprovalCodes.StoreFull, "Approvals full",
                "The edge holds as many open approvals as it keeps; retry once some are decided or expire.", retryAfter: "30");
        }
        catch (ApprovalStoreUnavailableException ex)
        {
            if (_unavailableLog.TryTake(time, out var unlogged))
            {
                Log.StoreUnavailable(logger, routeId, policy.Name, ex.Message, unlogged);
            }

            return Unavailable(ApprovalCodes.StoreUnavailable, "Approvals unavailable", "The approval store cannot be reached; retry later.", retryAfter: "5");
        }
    }

    private async ValueTask<EdgeStepResult> RequireApprovalAsync(ApprovalRequest fresh, DateTimeOffset now)
    {
        // The same request asked again: point at the approval already made for it rather than open another.
        if (await store.FindByRequestAsync(fresh.RequestHash) is { } existing && existing.ExpiresAt > now)
        {
            switch (existing.Status)
            {
                case ApprovalStatus.Rejected:
                    return Fail(StatusCodes.Status403Forbidden, ApprovalCodes.Rejected, "Approval rejected", "An approver rejected this request.", ApprovalCodes.Rejected, existing.Id);
                case ApprovalStatus.Pending or ApprovalStatus.Approved:
                    return Required(existing);
            }
        }

        // Kept one more TTL past its expiry, so a late retry is told "expired" rather than "unknown".
        await store.CreateAsync(fresh, fresh.ExpiresAt + policy.Options.Ttl, now);
        await events.RecordAsync(fresh.ToEvent(ApprovalEventKind.Requested, fresh.Requester));
        notifier.Enqueue(policy, fresh);
        return Required(fresh);
    }

    private static EdgeStepResult Required(ApprovalRequest approval) =>
        EdgeStepResult.Deny(new EdgeDenial(StatusCodes.Status428PreconditionRequired, ApprovalCodes.Required, "Approval required",
            "This request needs a human approval. Retry it unchanged with the approval token once it is approved.")
        {
            Extensions =
            [
                new("approvalId", approval.Id),
                new("expiresAt", FormatTime(approval.ExpiresAt)),
                new("approvalUrl", approval.Url),
            ],
        });

    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static EdgeStepResult Unavailable(string code, string title, string detail, string retryAfter) =>
        EdgeStepResult.Deny(new EdgeDenial(StatusCodes.Status503ServiceUnavailable, code, title, detail)
        {
            Headers = new Dictionary<string, string> { ["Retry-After"] = retryAfter },
        });

    private EdgeStepResult Fail(int status, string code, string title, string detail, string reason, string? approvalId = null)
    {
        Log.Refused(logger, routeId, policy.Name, reason);
        return EdgeStepResult.Deny(new EdgeDenial(status, code, title, detail)
        {
            Reason = reason,
            Extensions = approvalId is null ? null : [new("approvalId", approvalId)],
        });
    }

    private static partial class Log
    {
        [LoggerMessage(1900, LogLevel.Debug, "Approval on route {Route} refused by policy {Policy}: {Reason}")]
        public static partial void Refused(ILogger logger, string route, string policy, string reason);

        [LoggerMessage(1903, LogLevel.Warning, "Approval store unavailable on route {Route}, policy {Policy}: {Error}; {Unlogged} more since the previous such line (at most one a minute per route)")]
        public static partial void StoreUnavailable(ILogger logger, string route, string policy, string error, long unlogged);

        [LoggerMessage(1907, LogLevel.Warning, "Approval request on route {Route}, policy {Policy} refused: the in-process store holds {Capacity} live approvals (set Edge:Redis for a shared store without this cap, or decide pending ones); {Unlogged} more since the previous such line (at most one a minute per route)")]
        public static partial void StoreFull(ILogger logger, string route, string policy, int capacity, long unlogged);
    }
}
