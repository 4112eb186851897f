using System.Globalization;
using System.Text;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.AuditWriter.Authorization;
using Edge.AuditWriter.Log;

namespace Edge.AuditWriter.Api;

/// <summary>The read API: public checkpoint and key; records, proofs and export for auditors.</summary>
internal static class ReadEndpoints
{
    private const int MaxLimit = 1000;

    public static void Map(WebApplication app)
    {
        app.MapGet("/audit/checkpoint", (AuditLog log) => Results.Text(log.LatestCheckpoint.Note, "text/plain; charset=utf-8"));
        app.MapGet("/audit/key", (AuditLog log) =>
            Results.Text(string.Join('\n', log.Verifiers.Select(v => v.ToString())) + "\n", "text/plain; charset=utf-8"));
        app.MapGet("/audit/records", QueryAsync);
        app.MapGet("/audit/proof/inclusion", InclusionAsync);
        app.MapGet("/audit/proof/consistency", ConsistencyAsync);
        app.MapGet("/audit/export", ExportAsync);
        ErasureEndpoint.Map(app);
    }

    private static async Task<IResult> QueryAsync(HttpContext context, AuditLog log, CallerAuthenticator authenticator)
    {
        var (caller, denied) = await AuthorizeAsync(context, authenticator).ConfigureAwait(false);
        if (denied is not null)
        {
            return denied;
        }

        var q = context.Request.Query;
        if (!TryBuildQuery(q, caller!, out var query, out var problem))
        {
            return problem!;
        }

        var limit = 100;
        if (q.ContainsKey("limit") && (!int.TryParse(q["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > MaxLimit))
        {
            return Problems.BadRequest("invalid_limit", $"limit is 1 to {MaxLimit}.");
        }

        long? before = null;
        if (q.ContainsKey("cursor"))
        {
            if (!long.TryParse(q["cursor"], NumberStyles.None, CultureInfo.InvariantCulture, out var cursor))
            {
                return Problems.BadRequest("invalid_cursor", "cursor is the 'next' value of a previous page.");
            }

            before = cursor;
        }

        var records = log.Store.Query(WithBlindIndex(query!, log) with { Before = before, Limit = limit });
        using var view = new RecordView(log);
        return Results.Json(new
        {
            records = records.Select(view.ToJson).ToList(),
            next = records.Count == limit ? records[^1].Index.ToString(CultureInfo.InvariantCulture) : null,
        });
    }

    private static async Task<IResult> InclusionAsync(HttpContext context, AuditLog log, CallerAuthenticator authenticator)
    {
        var (caller, denied) = await AuthorizeAsync(context, authenticator).ConfigureAwait(false);
        if (denied is not null)
        {
            return denied;
        }

        var size = log.Size;
        if (!TryLong(context, "index", out var index) || !TryLong(context, "size", out var treeSize) || treeSize > size || index >= treeSize)
        {
            return Problems.BadRequest("invalid_proof_range", $"index and size are integers with 0 <= index < size <= {size}.");
        }

        // A proof is about one record: it follows the same tenant rule as /audit/records.
        if (!caller!.CanReadAllTenants
            && (caller.Tenant is null || log.Store.Query(new RecordQuery { Before = index + 1, Limit = 1 }) is not [{ } record] || record.Index != index || record.Tenant != caller.Tenant))
        {
            return TenantForbidden();
        }

        return Results.Json(new { proof = log.InclusionProof(index, treeSize).Select(Convert.ToBase64String) });
    }

    private static async Task<IResult> ConsistencyAsync(HttpContext context, AuditLog log, CallerAuthenticator authenticator)
    {
        var (_, denied) = await AuthorizeAsync(context, authenticator).ConfigureAwait(false);
        if (denied is not null)
        {
            return denied;
        }

        var size = log.Size;
        if (!TryLong(context, "from", out var from) || !TryLong(context, "to", out var to) || from > to || to > size)
        {
            return Problems.BadRequest("invalid_proof_range", $"from and to are integers with 0 <= from <= to <= {size}.");
        }

        return Results.Json(new { proof = log.ConsistencyProof(from, to).Select(Convert.ToBase64String) });
    }

    private static async Task ExportAsync(HttpContext context, AuditLog log, CallerAuthenticator authenticator)
    {
        var (caller, denied) = await AuthorizeAsync(context, authenticator).ConfigureAwait(false);
        var format = context.Request.Query["format"].ToString();
        RecordQuery? query = null;
        IResult? problem = denied;
        if (problem is null && format is not ("csv" or "ndjson"))
        {
            problem = Problems.BadRequest("invalid_format", "format is csv or ndjson.");
        }

        if (problem is null && !TryBuildQuery(context.Request.Query, caller!, out query, out problem))
        {
            query = null;
        }

        if (problem is not null)
        {
            await problem.ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        var response = context.Response;
        response.ContentType = format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson";
        var body = response.Body;
        if (format == "csv")
        {
            await body.WriteAsync("index,id,time,tenant,principal,route,decision,reason,leaf\n"u8.ToArray(), context.RequestAborted).ConfigureAwait(false);
        }

        var pending = 0;
        using var view = new RecordView(log);
        foreach (var record in log.Store.Export(WithBlindIndex(query!, log)))
        {
            if (format == "csv")
            {
                var row = string.Join(',',
                    record.Index.ToString(CultureInfo.InvariantCulture), Csv(record.Id),
                    record.Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture), Csv(record.Tenant), Csv(view.Principal(record)),
                    Csv(record.Route), Csv(record.Decision), Csv(record.Reason), record.Pruned ? "" : Convert.ToBase64String(record.Leaf)) + "\n";
                await body.WriteAsync(Encoding.UTF8.GetBytes(row), context.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                // Exact committed leaves, so the export verifies offline; a pruned record is only its leaf hash.
                await body.WriteAsync(record.Pruned ? PrunedExportLine.Format(record.Index, record.LeafHash) : record.Leaf, context.RequestAborted).ConfigureAwait(false);
                await body.WriteAsync("\n"u8.ToArray(), context.RequestAborted).ConfigureAwait(false);
            }

            if (++pending == 1000)
            {
                pending = 0;
                await body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            }
        }
    }

    /// <summary>v2 records have no plaintext principal column: a principal search goes through the keyed blind index.</summary>
    private static RecordQuery WithBlindIndex(RecordQuery query, AuditLog log) =>
        query.Principal is { } principal ? query with { PrincipalBlind = log.Keyring.BlindPrincipal(principal) } : query;

    private static bool TryBuildQuery(IQueryCollection q, AuditCaller caller, out RecordQuery? query, out IResult? problem)
    {
        query = null;
        problem = null;
        var tenant = NullIfEmpty(q["tenant"]);
        if (!caller.CanReadAllTenants)
        {
            if (caller.Tenant is null || (tenant is not null && tenant != caller.Tenant))
            {
                problem = TenantForbidden();
                return false;
            }

            tenant = caller.Tenant;
        }

        if (!TryTime(q, "from", out var from) || !TryTime(q, "to", out var to))
        {
            problem = Problems.BadRequest("invalid_time", "from and to are RFC 3339 timestamps.");
            return false;
        }

        query = new RecordQuery
        {
            Tenant = tenant,
            Id = NullIfEmpty(q["id"]),
            Principal = NullIfEmpty(q["principal"]),
            Route = NullIfEmpty(q["route"]),
            Decision = NullIfEmpty(q["decision"]),
            Reason = NullIfEmpty(q["reason"]),
            From = from,
            To = to,
        };
        return true;
    }

    private static async Task<(AuditCaller? Caller, IResult? Denied)> AuthorizeAsync(HttpContext context, CallerAuthenticator authenticator)
    {
        var (caller, challenge) = await authenticator.AuthenticateAsync(context.Request).ConfigureAwait(false);
        if (caller is null)
        {
            return (null, Problems.Unauthorized("unauthenticated", "Valid auditor credentials are required.", challenge));
        }

        return caller.CanRead
            ? (caller, null)
            : (null, Problems.Create(StatusCodes.Status403Forbidden, "missing_permission", "Forbidden", "The audit.read or audit.read.all permission is required."));
    }

    private static IResult TenantForbidden() =>
        Problems.Create(StatusCodes.Status403Forbidden, "tenant_forbidden", "Forbidden",
            "audit.read covers only the caller's own tenant; audit.read.all covers every tenant.");

    private static bool TryTime(IQueryCollection q, string name, out DateTimeOffset? value)
    {
        value = null;
        var text = NullIfEmpty(q[name]);
        if (text is null)
        {
            return true;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
        {
            value = parsed;
            return true;
        }

        return false;
    }

    private static bool TryLong(HttpContext context, string name, out long value) =>
        long.TryParse(context.Request.Query[name], NumberStyles.None, CultureInfo.InvariantCulture, out value);

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string Csv(string? value) =>
        value is null ? "" : value.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}
