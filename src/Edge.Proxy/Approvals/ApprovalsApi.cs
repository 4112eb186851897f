using System.Runtime.CompilerServices;
using System.Text.Json;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Approvals;

/// <summary>
/// The approvals API under <c>/_edge/approvals</c> on the proxy listener. A caller signs in with any authentication
/// policy that an approval policy names; what it may see and decide follows from that:
/// its tenant is the tenant its verified credential is bound to (never a header it sends), and it acts on an approval
/// only when the approval's policy lists the caller's authentication policy and the caller's roles grant that policy's
/// <c>ApproverPermission</c>. Approvals of another tenant do not exist for the caller (404).
/// The API is no proxied request, so it takes the pipeline's threat gate itself: a banned client is refused before
/// sign-in, and a refused credential counts towards the ban rules exactly as on a route's <c>EdgeAuthenticate</c> step.
/// Every answer is one request record (route <see cref="ApiRouteId"/>) written as a request no route takes is
/// (<see cref="UnroutedRequests.AnswerRecordedAsync"/>), and every refusal is decided through <see cref="EdgeDecisions"/>.
/// </summary>
internal sealed partial class ApprovalsApi(
    EdgeConfigState state,
    IApprovalStore store,
    ApprovalEvents events,
    SigningKeyCache keys,
    UnroutedRequests unrouted,
    EdgeDecisions decisions,
    IEdgeThreatGate threat,
    TimeProvider time,
    ILogger<ApprovalsApi> logger)
{
    /// <summary>The route name ban metrics and rule keys with <c>{route}</c> see for an approvals API call.</summary>
    public const string ApiRouteId = "_edge/approvals";

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private readonly ConditionalWeakTable<EdgeSection, Snapshot> _snapshots = new();

    // These calls are no audited requests, so each refusal below was one record per call, without bound.
    private readonly Edge.Shared.RefusalRecordLimiter _refusals = new(time);

    public async Task ListAsync(HttpContext http)
    {
        if (await SignInAsync(http) is not { } caller)
        {
            return;
        }

        // A misspelt filter (stauts=all) was ignored, so the answer held the pending approvals only, read as "all".
        foreach (var (name, _) in http.Request.Query)
        {
            if (!string.Equals(name, "status", StringComparison.OrdinalIgnoreCase))
            {
                await ProblemAsync(http, StatusCodes.Status400BadRequest, "query_invalid", "Query invalid",
                    "The list takes one parameter, status; other parameters are refused rather than ignored.");
                return;
            }
        }

        // Absent is the default; given empty (status= from a script whose variable was unset) it is refused like any value
        // not listed: read as pending, the answer held the pending requests where the script asked for another status.
        var filter = http.Request.Query.ContainsKey("status") ? http.Request.Query["status"].ToString() : "pending";
        if (filter is not ("pending" or "approved" or "rejected" or "consumed" or "expired" or "all"))
        {
            await ProblemAsync(http, StatusCodes.Status400BadRequest, "status_invalid", "Status invalid",
                "status is one of pending, approved, rejected, consumed, expired or all.");
            return;
        }

        var now = time.GetUtcNow();
        var items = (await store.ListAsync(caller.Tenant))
            .Where(a => caller.Policies.Contains(a.Policy) && (filter == "all" || EffectiveStatus(a, now) == filter))
            .Select(a => View(a, now))
            .ToList();
        await JsonAsync(http, StatusCodes.Status200OK, new { approvals = items });
    }

    public async Task GetAsync(HttpContext http, string id)
    {
        if (await SignInAsync(http) is { } caller && await FindAsync(http, caller, id) is { } approval)
        {
            await JsonAsync(http, StatusCodes.Status200OK, View(approval, time.GetUtcNow()));
        }
    }

    public async Task ApproveAsync(HttpContext http, string id)
    {
        if (await SignInAsync(http) is not { } caller || await FindAsync(http, caller, id, deciding: true) is not { } approval)
        {
            return;
        }

        if (!await CanRecordDecisionAsync(http))
        {
            return;
        }

        var policy = caller.Snapshot.Policies[approval.Policy];
        if (policy.Options.FourEyes && SamePerson(approval.Requester, caller.Principal))
        {
            if (await RefusedAsync(http, approval, caller.Principal, ApprovalCodes.Self))
            {
                await ProblemAsync(http, StatusCodes.Status403Forbidden, ApprovalCodes.Self, "Approval refused",
                    "Under the four-eyes rule the requester cannot approve their own request.");
            }

            return;
        }

        var now = time.GetUtcNow();
        var expiresAt = now + policy.Options.Ttl;
        var (token, tokenHash) = ApprovalToken.Create(approval.Id);
        var outcome = await store.ApproveAsync(approval.Id, caller.Principal, tokenHash, now, expiresAt, expiresAt + policy.Options.Ttl);
        if (outcome != DecideOutcome.Decided)
        {
            await DecisionRefusedAsync(http, approval, outcome, caller.Principal);
            return;
        }

        await events.RecordAsync((approval with { Approver = caller.Principal }).ToEvent(ApprovalEventKind.Approved, caller.Principal));
        Log.Decided(logger, approval.Id, approval.Policy, "approved");
        await JsonAsync(http, StatusCodes.Status200OK, new { approvalId = approval.Id, token, expiresAt = ApprovalStep.FormatTime(expiresAt) });
    }

    public async Task RejectAsync(HttpContext http, string id)
    {
        if (await SignInAsync(http) is not { } caller || await FindAsync(http, caller, id, deciding: true) is not { } approval)
        {
            return;
        }

        if (!await CanRecordDecisionAsync(http))
        {
            return;
        }

        var outcome = await store.RejectAsync(approval.Id, caller.Principal, time.GetUtcNow());
        if (outcome != DecideOutcome.Decided)
        {
            await DecisionRefusedAsync(http, approval, outcome, caller.Principal);
            return;
        }

        await events.RecordAsync((approval with { Approver = caller.Principal }).ToEvent(ApprovalEventKind.Rejected, caller.Principal));
        Log.Decided(logger, approval.Id, approval.Policy, "rejected");
        await JsonAsync(http, StatusCodes.Status200OK, new { approvalId = approval.Id, status = "rejected" });
    }

    /// <summary>
    /// A decision (or its refusal) is recorded before it is answered. At the audit spool's cap the record was dropped while
    /// the approver got the token: the trail then showed the request and its use, never who approved it. Refused like an
    /// audit-required route's request at the same cap, before anything is decided.
    /// </summary>
    private async ValueTask<bool> CanRecordDecisionAsync(HttpContext http)
    {
        if (events.CanRecord)
        {
            return true;
        }

        http.Response.Headers.RetryAfter = "5";
        await ProblemAsync(http, StatusCodes.Status503ServiceUnavailable, EdgeRequestMiddleware.AuditUnavailableCode, "Audit unavailable",
            "The audit trail cannot record this decision right now; nothing was decided. Retry later.");
        return false;
    }

    /// <summary>
    /// Runs one API call as one audited request; a store that cannot answer is a 503, never a guess. Without an approval
    /// policy the API does not exist: its paths are answered as any other path no endpoint has.
    /// </summary>
    public Task GuardAsync(HttpContext http, Func<Task> call)
    {
        if (_snapshots.GetValue(state.Serving.Edge, CreateSnapshot).Validators.Length == 0)
        {
            return NoSuchEndpointAsync(http, unrouted);
        }

        var request = unrouted.Begin(http, ApiRouteId);
        return unrouted.AnswerRecordedAsync(http, request, async () =>
        {
            try
            {
                await call();
            }
            catch (ApprovalStoreUnavailableException ex) when (!http.Response.HasStarted)
            {
                Log.StoreUnavailable(logger, ex.Message);
                http.Response.Headers.RetryAfter = "5";
                await ProblemAsync(http, StatusCodes.Status503ServiceUnavailable, ApprovalCodes.StoreUnavailable, "Approvals unavailable",
                    "The approval store cannot be reached; retry later.");
            }
        });
    }

    /// <summary>
    /// A refused decision on an approval the caller can see is written to the trail before the answer: an attempt to
    /// approve one's own request, or one the caller's roles do not cover, is what a compliance review looks for.
    /// </summary>
    private ValueTask<bool> RefusedAsync(HttpContext http, ApprovalRequest approval, string approver, string code) =>
        RecordRefusalAsync(http, approval.ToEvent(ApprovalEventKind.Refused, approver) with { Refusal = code });

    /// <summary>
    /// Records a refused decision, up to the caller's limit (<see cref="Edge.Shared.RefusalRecordLimiter"/>); past it the
    /// answer is a 429, written here, recorded once per window and then only counted. False when that 429 was written.
    /// </summary>
    private async ValueTask<bool> RecordRefusalAsync(HttpContext http, ApprovalEvent refusal)
    {
        switch (_refusals.Admit(refusal.Actor ?? "", out var retryAfter))
        {
            case Edge.Shared.RefusalAdmission.Record:
                await events.RecordAsync(refusal);
                return true;
            case Edge.Shared.RefusalAdmission.RecordLimit:
                await events.RecordAsync(refusal with { Kind = ApprovalEventKind.Refused, Refusal = ApprovalCodes.RateLimited });
                break;
            default:
                events.Unrecorded(refusal.Policy);
                break;
        }

        http.Response.Headers.RetryAfter = Edge.Shared.RefusalRecordLimiter.RetryAfterSeconds(retryAfter);
        await ProblemAsync(http, StatusCodes.Status429TooManyRequests, ApprovalCodes.RateLimited, "Too many requests",
            $"More than {Edge.Shared.RefusalRecordLimiter.RecordedPerWindow} refused decisions by this caller within a minute; nothing was decided. Retry after the time given.");
        return false;
    }

    /// <summary>
    /// Anything no endpoint here matched: an endpoint's path with another method (GET …/approve, as a browser's address
    /// bar sends it) is 405 with <c>Allow</c>, as on the proxy routes; any other path 404 <c>not_found</c>. Both are
    /// answered as a request no route takes (<see cref="UnroutedRequests"/>): an edge request id, an audit record, the
    /// ban check, and a 404 counts as the <c>NotFound</c> event. Before, they were answered outside that gate, so a
    /// scanner walked this prefix uncounted and unrecorded, and a banned client was still answered here.
    /// </summary>
    public static Task UnmatchedAsync(HttpContext http, UnroutedRequests unrouted)
    {
        if (AllowedMethods(http.Request.Path, out var idMissing) is not { } allow)
        {
            http.Response.Headers.CacheControl = "no-store";
            return unrouted.AnswerAsync(http, idMissing ? IdMissing : NoSuchEndpoint);
        }

        http.Response.Headers.CacheControl = "no-store";
        return unrouted.AnswerAsync(http, new EdgeDenial(StatusCodes.Status405MethodNotAllowed, MethodPolicy.ReasonCode, "Method not allowed",
            $"This approvals endpoint takes {allow} only.")
        {
            Headers = new Dictionary<string, string> { ["Allow"] = allow },
        });
    }

    private static readonly EdgeDenial NoSuchEndpoint =
        new(StatusCodes.Status404NotFound, UnroutedRequests.NotFoundCode, "Not found", "There is no such approvals endpoint.");

    private static readonly EdgeDenial IdMissing = new(StatusCodes.Status404NotFound, UnroutedRequests.NotFoundCode, "Not found",
        "The approval id is missing from the path: /_edge/approvals/{id}/approve or /reject.");

    /// <summary>A path under the prefix that no endpoint has (also a file the approver page lacks), as <see cref="UnmatchedAsync"/> answers it.</summary>
    public static Task NoSuchEndpointAsync(HttpContext http, UnroutedRequests unrouted)
    {
        http.Response.Headers.CacheControl = "no-store";
        return unrouted.AnswerAsync(http, NoSuchEndpoint);
    }

    private static string? AllowedMethods(PathString path, out bool idMissing)
    {
        idMissing = false;
        if (!path.StartsWithSegments(ApprovalFingerprint.ApiPrefix, out var rest))
        {
            return null;
        }

        // One leading slash only: trimming them all read "//approve" (an empty id) as the approval "approve", and a POST
        // there was told the endpoint takes GET.
        var value = rest.Value ?? "";
        var segments = (value.StartsWith('/') ? value[1..] : value).Split('/');
        idMissing = segments is ["", "approve" or "reject"];
        return segments switch
        {
            [""] or [_] => HttpMethods.Get,
            ["ui", ..] => HttpMethods.Get,
            [{ Length: > 0 }, "approve" or "reject"] => HttpMethods.Post,
            _ => null,
        };
    }

    private async Task DecisionRefusedAsync(HttpContext http, ApprovalRequest approval, DecideOutcome outcome, string approver)
    {
        switch (outcome)
        {
            case DecideOutcome.Expired:
                if (await RecordRefusalAsync(http, approval.ToEvent(ApprovalEventKind.Expired, approver)))
                {
                    await ProblemAsync(http, StatusCodes.Status409Conflict, ApprovalCodes.Expired, "Approval expired", "The request waited longer than the policy's Ttl.");
                }

                break;
            case DecideOutcome.AlreadyDecided:
                if (await RefusedAsync(http, approval, approver, ApprovalCodes.AlreadyDecided))
                {
                    await ProblemAsync(http, StatusCodes.Status409Conflict, ApprovalCodes.AlreadyDecided, "Already decided", "The request was already approved, rejected or used.");
                }

                break;
            default:
                await NotFoundApprovalAsync(http);
                break;
        }
    }

    private async Task<ApprovalRequest?> FindAsync(HttpContext http, Caller caller, string id, bool deciding = false)
    {
        var approval = ApprovalToken.IsId(id) ? await store.GetAsync(id) : null;
        if (approval is null || !string.Equals(approval.Tenant, caller.Tenant, StringComparison.Ordinal) || !caller.Snapshot.Policies.ContainsKey(approval.Policy))
        {
            await NotFoundApprovalAsync(http);
            return null;
        }

        if (!caller.Policies.Contains(approval.Policy))
        {
            var policy = caller.Snapshot.Policies[approval.Policy];
            if (deciding && !await RefusedAsync(http, approval, caller.Principal, ApprovalCodes.MissingPermission))
            {
                return null;
            }

            await ProblemAsync(http, StatusCodes.Status403Forbidden, ApprovalCodes.MissingPermission, "Forbidden",
                $"Deciding this request requires the permission '{policy.Options.ApproverPermission}'.");
            return null;
        }

        return approval;
    }

    /// <summary>Authenticates the caller; on failure the answer is written and null returned.</summary>
    private async Task<Caller?> SignInAsync(HttpContext http)
    {
        var request = http.GetEdgeRequest() ?? throw new InvalidOperationException("An approvals API call runs inside GuardAsync.");

        // Framing two parsers could read differently and control characters are refused here as on every route and on a
        // path no route takes, before the ban check: before, the API answered them, a token included.
        if (UnroutedRequests.Gate(http, request, threat) is var (step, refused))
        {
            await decisions.DenyAsync(http, step, refused);
            return null;
        }

        var snapshot = _snapshots.GetValue(state.Serving.Edge, CreateSnapshot);
        if (snapshot.Validators.Length == 0)
        {
            // The config changed since GuardAsync looked: no policy is left to sign in with.
            await decisions.DenyAsync(http, EdgeRequestMiddleware.EdgeStepName, NoSuchEndpoint);
            return null;
        }

        var chosen = Array.Find(snapshot.Validators, v => v.HasCredential(http.Request));
        if (chosen is null)
        {
            await decisions.DenyAsync(http, AuthenticateStepValidator.StepName, AuthenticationRefusal.Create(StatusCodes.Status401Unauthorized,
                AuthenticationCodes.AuthenticationRequired, AuthenticationCodes.AuthenticationRequired, "Authentication is required.", snapshot.Challenge));
            return null;
        }

        var result = await chosen.AuthenticateAsync(http.Request, http.RequestAborted);
        if (!result.Succeeded)
        {
            Log.SignInRefused(logger, result.FailureReason);

            // Answered, recorded and counted towards the ban rules as a route's EdgeAuthenticate refusal: the record names
            // the kind of credential refused, never an unverified principal.
            http.Features.Set<IEdgeIdentityFeature>(new RefusedCredentialFeature(chosen.Method));
            await decisions.DenyAsync(http, AuthenticateStepValidator.StepName, AuthenticationRefusal.Create(result.FailureStatus, result.FailureCode,
                result.FailureReason, result.FailureDetail ?? "Authentication failed.", result.Challenge));
            return null;
        }

        var identity = result.Identity;

        // The bans keyed on who signed in ({principal}, {tenant}:{ip}) hold here as right after a route's EdgeAuthenticate:
        // before, only the keys known before sign-in were checked, so a principal banned on every route still listed,
        // approved and rejected here.
        http.Features.Set<IEdgeIdentityFeature>(new ApproverIdentity(identity));
        if (identity.Tenant is { } tenant)
        {
            http.SetFeature(new EdgeTenantFeature(tenant, ApproverIdentity.TenantSource));
        }

        if (threat.CheckAfterStep(http, request) is { } banned)
        {
            await decisions.DenyAsync(http, IEdgeThreatGate.StepName, banned);
            return null;
        }

        var entitled = snapshot.Policies.Values
            .Where(p => p.AuthenticationPolicies.Contains(identity.Policy, StringComparer.Ordinal) && identity.Permissions.Has(p.Options.ApproverPermission))
            .Select(p => p.Name)
            .ToHashSet(StringComparer.Ordinal);
        if (entitled.Count == 0)
        {
            await ProblemAsync(http, StatusCodes.Status403Forbidden, ApprovalCodes.MissingPermission, "Forbidden",
                "The caller's roles grant no approval policy's ApproverPermission.");
            return null;
        }

        return new Caller(snapshot, identity.Principal, identity.Tenant, entitled);
    }

    private Snapshot CreateSnapshot(EdgeSection edge)
    {
        var policies = edge.Approvals.ToDictionary(p => p.Key, p => ApprovalPolicy.Create(p.Key, p.Value), StringComparer.Ordinal);
        var permissions = new EdgePermissionResolver(edge.Roles);
        var validators = policies.Values
            .SelectMany(p => p.AuthenticationPolicies)
            .Distinct(StringComparer.Ordinal)
            .Where(edge.Authentication.ContainsKey)
            .Select(name => EdgeCredentialValidator.Create(name, edge.Authentication[name], permissions, keys, time))
            .ToArray();
        return new Snapshot(policies, validators, string.Join(", ", validators.Select(v => v.Challenge)));
    }

    /// <summary>
    /// Whether two principals may be one person, for the four-eyes rule: compared without regard to case (Unicode simple
    /// case folding, also under invariant globalization). A person with an API key named "Alice" and a JWT whose subject
    /// is "alice" approved their own request under an ordinal comparison. Erring this way only ever asks for another approver.
    /// </summary>
    internal static bool SamePerson(string requester, string approver) =>
        string.Equals(requester, approver, StringComparison.OrdinalIgnoreCase);

    private static string EffectiveStatus(ApprovalRequest approval, DateTimeOffset now) => approval.Status switch
    {
        ApprovalStatus.Pending when approval.ExpiresAt <= now => "expired",
        ApprovalStatus.Approved when approval.TokenExpiresAt <= now => "expired",
        var status => status.ToString().ToLowerInvariant(),
    };

    private static object View(ApprovalRequest a, DateTimeOffset now) => new
    {
        id = a.Id,
        policy = a.Policy,
        route = a.Route,
        tenant = a.Tenant,
        requester = a.Requester,
        method = a.Method,
        path = a.Path,
        query = a.Query,
        bodySha256 = a.BodySha256,
        requestHash = a.RequestHash,
        createdAt = ApprovalStep.FormatTime(a.CreatedAt),
        expiresAt = ApprovalStep.FormatTime(a.ExpiresAt),
        status = EffectiveStatus(a, now),
        approver = a.Approver,
        decidedAt = a.DecidedAt is { } decided ? ApprovalStep.FormatTime(decided) : null,
        tokenExpiresAt = a.TokenExpiresAt is { } tokenExpires ? ApprovalStep.FormatTime(tokenExpires) : null,
        approvalUrl = a.Url,
    };

    private Task NotFoundApprovalAsync(HttpContext http) =>
        ProblemAsync(http, StatusCodes.Status404NotFound, ApprovalCodes.NotFound, "Not found", "There is no such approval for the caller's tenant.");

    /// <summary>A refusal of the API itself (step <c>EdgeApproval</c>): answered, recorded and counted as every denial.</summary>
    private Task ProblemAsync(HttpContext http, int status, string code, string title, string detail) =>
        decisions.DenyAsync(http, ApprovalStepValidator.StepName, new EdgeDenial(status, code, title, detail));

    /// <summary>With its length, so the request record's <c>bytesOut</c> says what the client got (a chunked answer has none).</summary>
    private static Task JsonAsync(HttpContext http, int status, object value)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(value, value.GetType(), JsonOptions);
        http.Response.StatusCode = status;
        http.Response.Headers.CacheControl = "no-store";
        http.Response.ContentType = "application/json; charset=utf-8";
        http.Response.ContentLength = body.Length;
        return http.Response.Body.WriteAsync(body, http.RequestAborted).AsTask();
    }

    /// <summary>The signed-in approver as the ban rules' keys read it; the approvals API has no <c>EdgeAuthenticate</c> step to set it.</summary>
    private sealed class ApproverIdentity(EdgeIdentity identity) : IEdgeIdentityFeature
    {
        /// <summary>The tenant's source as ban keys see it: the credential the approver signed in with, never a header.</summary>
        public const string TenantSource = "Credential";

        public string Method => identity.Method;

        public EdgeIdentity? Identity => identity;
    }

    private sealed record Snapshot(IReadOnlyDictionary<string, ApprovalPolicy> Policies, EdgeCredentialValidator[] Validators, string Challenge);

    /// <summary>A signed-in approver: its principal, the tenant its credential is bound to, and the policies it may decide.</summary>
    private sealed record Caller(Snapshot Snapshot, string Principal, string? Tenant, IReadOnlySet<string> Policies);

    private static partial class Log
    {
        [LoggerMessage(1904, LogLevel.Information, "Approval {ApprovalId} of policy {Policy} {Decision}")]
        public static partial void Decided(ILogger logger, string approvalId, string policy, string decision);

        [LoggerMessage(1905, LogLevel.Debug, "Approvals API sign-in refused: {Reason}")]
        public static partial void SignInRefused(ILogger logger, string reason);

        [LoggerMessage(1906, LogLevel.Warning, "Approvals API: approval store unavailable ({Error})")]
        public static partial void StoreUnavailable(ILogger logger, string error);
    }
}
