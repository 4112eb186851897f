using System.Net;
using System.Text.Json;
using Edge.Audit.Records;
using Edge.AuditWriter.Authorization;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Retention;
using Edge.Configuration.Tenancy;
using Edge.Shared;
using Microsoft.Net.Http.Headers;

namespace Edge.AuditWriter.Api;

/// <summary>
/// POST /audit/erasure <c>{"subject":"&lt;principal&gt;","tenant":"&lt;optional&gt;"}</c>: crypto-shreds a principal
/// (GDPR art. 17); <c>{"clientIp":"&lt;address&gt;"}</c> instead shreds the records without a principal that are keyed
/// by that address. Needs <c>audit.erase</c>; a caller without <c>audit.read.all</c> erases only within its own tenant.
/// </summary>
internal static class ErasureEndpoint
{
    public const string Path = "/audit/erasure";
    private const int MaxBodyBytes = 4096;
    private const int MaxSubjectLength = 1024;
    private const string RateLimitedCode = "erasure_rate_limited";

    public static RouteHandlerBuilder Map(WebApplication app) => app.MapPost(Path, HandleAsync);

    private static async Task<IResult> HandleAsync(
        HttpContext context, AuditLog log, CallerAuthenticator authenticator, RetentionMetrics metrics, RefusalRecordLimiter limiter)
    {
        var (caller, refusal) = await authenticator.AuthenticateAsync(context.Request).ConfigureAwait(false);
        if (caller is null)
        {
            return refusal!;
        }

        var refusals = new Refusals(log, limiter, metrics);

        if (!caller.CanErase)
        {
            return await RefuseAsync(refusals, caller, caller.Tenant, "missing_permission", "The audit.erase permission is required.", []).ConfigureAwait(false);
        }

        // Everything an erasure takes is in its body. A query parameter was ignored: ?tenant=acme erased the subject in
        // every tenant, irreversibly; refused as the read endpoints refuse one they do not take (a 400, not recorded).
        if (ReadEndpoints.RefuseParameters(context.Request.Query, []) is { } parameter)
        {
            return parameter;
        }

        // The body is JSON: a form post or text/plain body was read as JSON all the same and erased. Like a 400 it is not
        // recorded (nothing about the subject was asked in a form the writer reads); missing_permission, decided before
        // the body is looked at, still is.
        if (!context.Request.HasJsonContentType()
            || !MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var mediaType) || !RequestCharset.IsUtf8OrAbsent(mediaType))
        {
            return Problems.Create(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Unsupported media type",
                "An erasure request is application/json in UTF-8: {\"subject\": \"<principal>\"} or {\"clientIp\": \"<IP address>\"}.");
        }

        ErasureRequest? request;
        bool tooLarge;
        try
        {
            (request, tooLarge) = await ReadRequestAsync(context).ConfigureAwait(false);
        }
        catch (BadHttpRequestException unreadable) when (!context.RequestAborted.IsCancellationRequested)
        {
            // A body slower than MinRequestBodyDataRate or a bad chunk, not recorded, as a 400 about the JSON is not.
            return Problems.BodyUnreadable(unreadable);
        }

        if (tooLarge)
        {
            // A 400 said the JSON was wrong when only its size was.
            return Problems.Create(StatusCodes.Status413PayloadTooLarge, "body_too_large", "Body too large",
                $"An erasure request is at most {MaxBodyBytes} bytes.");
        }

        if (request is null)
        {
            return Problems.BadRequest("invalid_erasure",
                $"The body is a JSON object {{\"subject\": \"<principal>\"}} (at most {MaxSubjectLength} characters) or {{\"clientIp\": \"<IP address>\"}}, optionally with \"tenant\" (a tenant id: 1 to 64 of A-Z a-z 0-9 . _ -).");
        }

        var tenant = request.Tenant;
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["scope"] = tenant is null ? "all_tenants" : "tenant",
            ["subjectKind"] = request.ByClientIp ? "client_ip" : "principal",
        };
        if (!caller.CanReadAllTenants)
        {
            // Tenant-scoped erasers reach only their own tenant's records, exactly like tenant-scoped readers.
            if (caller.Tenant is null || (tenant is not null && tenant != caller.Tenant))
            {
                if (tenant is not null)
                {
                    attributes["requestedTenant"] = tenant;
                }

                return await RefuseAsync(refusals, caller, caller.Tenant, "tenant_forbidden", "Without audit.read.all, audit.erase covers only the caller's own tenant.", attributes)
                    .ConfigureAwait(false);
            }

            tenant = caller.Tenant;
        }

        // Four eyes, as for approvals (approval_self): the caller's own records, the erasure records of what it erased
        // before included (their subject is the caller, their tenant the scope), are the trail of its own actions, so
        // another eraser must erase them. Principals are compared exactly, as erasure finds them.
        // The address this request comes from is the caller's too: the anonymous records keyed by it (probes, refusals
        // before sign-in) are likely its own, so erasing them by clientIp is the same self-erasure by another key. By the
        // connection, never a forwarding header; behind a reverse proxy that is the proxy's address.
        if (request.ByClientIp ? IsConnectionAddress(context, request.Subject) : string.Equals(request.Subject, caller.Principal, StringComparison.Ordinal))
        {
            return await RefuseAsync(refusals, caller, caller.Tenant, "erasure_self",
                "A caller cannot erase its own records (its principal, or the address it connects from); another holder of audit.erase must make this erasure.",
                attributes).ConfigureAwait(false);
        }

        ErasureResult result;
        try
        {
            // Not bound to RequestAborted: once the keys are deleted the erasure must also be recorded.
            result = await log.EraseAsync(request.Subject, request.ByClientIp, tenant, caller.Principal, CancellationToken.None).ConfigureAwait(false);
        }
        catch (WriterStandbyException)
        {
            return Problems.WriterStandby();
        }
        catch (StoreFileGoneException)
        {
            // Ingest and /readyz already answer this; an erasure answered 200 here was lost with the unlinked file.
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, "store_unavailable", "Audit store unavailable",
                "The writer's store file is no longer at Writer:StorePath; nothing was erased. Restore it, restart the writer and repeat the request.");
        }

        metrics.Erased(result.Records);
        if (!result.WalTruncated)
        {
            // The count goes into the detail: the retry finds the keys already gone and answers 0.
            return Problems.RetryLater("erasure_pending", "Erasure not yet complete",
                $"The subject's keys are deleted ({result.Records} records erased), but the write-ahead log could not be truncated yet; repeat the request.");
        }

        return request.ByClientIp
            ? Results.Json(new { clientIp = request.Subject, records = result.Records })
            : Results.Json(new { subject = request.Subject, records = result.Records });
    }

    private static bool IsConnectionAddress(HttpContext context, string clientIp)
    {
        if (context.Connection.RemoteIpAddress is not { } remote)
        {
            return false;
        }

        // As the edge writes a client's address: an IPv4 peer on a dual-stack socket as IPv4, without an IPv6 zone.
        var connection = remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote;
        return connection.GetAddressBytes().AsSpan().SequenceEqual(IPAddress.Parse(clientIp).GetAddressBytes());
    }

    /// <summary>
    /// A 403 to a signed-in caller is recorded before it is answered (<see cref="AuditEventTypes.ErasureRefused"/>), so
    /// the trail holds every refused attempt exactly as answered, up to the caller's limit (<see cref="RefusalRecordLimiter"/>):
    /// past it the answer is 429, recorded once per window and then counted. A refusal that cannot be recorded is answered
    /// as the store's state instead: nothing was erased either way.
    /// </summary>
    private static async Task<IResult> RefuseAsync(Refusals refusals, AuditCaller caller, string? tenant, string code, string detail, Dictionary<string, string> attributes)
    {
        var admission = refusals.Limiter.Admit(caller.Principal, out var retryAfter);
        if (admission == RefusalAdmission.CountOnly)
        {
            refusals.Metrics.RefusalUnrecorded();
            return RateLimited(retryAfter);
        }

        var limited = admission == RefusalAdmission.RecordLimit;
        try
        {
            await refusals.Log.RecordErasureRefusedAsync(caller.Principal, tenant, limited ? RateLimitedCode : code,
                limited ? StatusCodes.Status429TooManyRequests : StatusCodes.Status403Forbidden, attributes, CancellationToken.None).ConfigureAwait(false);
        }
        catch (WriterStandbyException)
        {
            return Problems.WriterStandby();
        }
        catch (StoreFileGoneException)
        {
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, "store_unavailable", "Audit store unavailable",
                "The writer's store file is no longer at Writer:StorePath; nothing was erased. Restore it, restart the writer and repeat the request.");
        }

        return limited ? RateLimited(retryAfter) : Problems.Create(StatusCodes.Status403Forbidden, code, "Forbidden", detail);
    }

    private static IResult RateLimited(TimeSpan retryAfter) => Problems.TooManyRequests(RateLimitedCode,
        $"More than {RefusalRecordLimiter.RecordedPerWindow} refused erasure requests by this caller within a minute; nothing was erased. Retry after the time given.",
        retryAfter);

    private sealed record Refusals(AuditLog Log, RefusalRecordLimiter Limiter, RetentionMetrics Metrics);

    /// <summary>The request, or null when the body is not one; <c>TooLarge</c> when it is over <see cref="MaxBodyBytes"/>.</summary>
    private static async Task<(ErasureRequest? Request, bool TooLarge)> ReadRequestAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return (null, true);
        }

        using var buffer = new MemoryStream();
        var body = context.Request.Body;
        var chunk = new byte[1024];
        int read;
        while ((read = await body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return (null, true);
            }

            buffer.Write(chunk, 0, read);
        }

        return (Parse(buffer.ToArray()), false);
    }

    private static ErasureRequest? Parse(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { AllowDuplicateProperties = false });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            string? subject = null, clientIp = null, tenant = null;
            foreach (var property in root.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "subject" when property.Value.ValueKind == JsonValueKind.String:
                        subject = property.Value.GetString();
                        break;
                    case "clientIp" when property.Value.ValueKind == JsonValueKind.String:
                        clientIp = property.Value.GetString();
                        break;
                    case "tenant" when property.Value.ValueKind == JsonValueKind.String:
                        tenant = property.Value.GetString();
                        break;
                    default:
                        return null;
                }
            }

            // A tenant the edge could never have written (../../x, a space) erased nothing, answered 200 records: 0 and put
            // the name into the erasure record; the edge accepts the same characters (TenantId).
            if ((tenant is not null && !TenantId.IsValid(tenant)) || (subject is null) == (clientIp is null))
            {
                return null;
            }

            if (clientIp is not null)
            {
                // Exactly as records carry it (the edge writes the address's canonical text): anything else would erase nothing.
                if (!IPAddress.TryParse(clientIp, out var address) || address.ToString() != clientIp)
                {
                    return null;
                }

                // The edge records an IPv4 client reached over a dual-stack socket as IPv4, never as ::ffff:a.b.c.d; taken
                // as given, that form answered "records": 0 for a client whose records were all there.
                return new ErasureRequest(address.IsIPv4MappedToIPv6 ? address.MapToIPv4().ToString() : clientIp, tenant, ByClientIp: true);
            }

            return subject!.Length is 0 or > MaxSubjectLength ? null : new ErasureRequest(subject, tenant, ByClientIp: false);
        }
        catch (JsonException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            // A name or string with an unpaired surrogate escape ("\ud800"): valid JSON syntax, but no text to erase by.
            return null;
        }
    }

    private sealed record ErasureRequest(string Subject, string? Tenant, bool ByClientIp);
}
