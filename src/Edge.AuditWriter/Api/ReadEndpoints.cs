using System.Globalization;
using System.Text.Json;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.AuditWriter.Authorization;
using Edge.AuditWriter.Log;
using Edge.Configuration.Tenancy;
using Microsoft.AspNetCore.Routing;

namespace Edge.AuditWriter.Api;

/// <summary>The read API: public checkpoint and key; records, proofs and export for auditors.</summary>
internal static class ReadEndpoints
{
    private const int MaxLimit = 1000;

    /// <summary>
    /// The leaf bytes one page of <c>/audit/records</c> holds at most (a record larger than this alone gets a page of its
    /// own): at Writer:MaxRecordBytes, 1,000 records made a page of about 1 GB (each leaf in base64 and parsed), which the
    /// viewer in a browser or a script had to hold. Clients already follow <c>next</c>, so a page stops early with it.
    /// </summary>
    internal const int MaxPageLeafBytes = 8 * 1024 * 1024;
    private static readonly string[] Filters = ["id", "tenant", "principal", "route", "decision", "reason", "from", "to"];

    /// <summary>What <c>/audit/records</c> takes besides the filters.</summary>
    internal static readonly string[] PageParameters = ["order", "cursor", "limit"];

    private static readonly string[] InclusionParameters = ["index", "size"];

    /// <summary>
    /// A page holds each record three levels down (answer, records, record), and ingest takes a leaf up to 64 levels
    /// deep (its JSON reader's limit): at the serializer's default depth of 64, one deep record made every page with it
    /// a 500. Room for the page's own levels on top of the deepest leaf.
    /// </summary>
    private static readonly JsonSerializerOptions PageJson = new(JsonSerializerDefaults.Web) { MaxDepth = 64 + 8 };
    private static readonly string[] ConsistencyParameters = ["from", "to"];

    /// <summary>
    /// For what a monitor or a witness polls (the checkpoints, the key, tiles, /readyz, /metrics, the viewer's files):
    /// MapGet takes GET alone, so <c>curl -I</c> or an uptime check's HEAD got 405 from a writer that was serving.
    /// </summary>
    internal static readonly HttpMethodMetadata GetOrHead = new([HttpMethods.Get, HttpMethods.Head]);

    public static void Map(WebApplication app)
    {
        app.MapGet("/audit/checkpoint", (HttpContext context, AuditLog log) =>
            RefuseParameters(context.Request.Query, []) ?? Results.Text(log.LatestCheckpoint.Note, "text/plain; charset=utf-8"))
            .WithMetadata(GetOrHead);
        app.MapGet("/audit/key", (HttpContext context, AuditLog log) =>
            RefuseParameters(context.Request.Query, [])
            ?? Results.Text(string.Join('\n', log.Verifiers.Select(v => v.ToString())) + "\n", "text/plain; charset=utf-8"))
            .WithMetadata(GetOrHead);
        app.MapGet("/audit/session", SessionAsync).AddEndpointFilter(NoStore);
        app.MapGet("/audit/records", QueryAsync).AddEndpointFilter(NoStore);
        app.MapGet("/audit/proof/inclusion", InclusionAsync).AddEndpointFilter(NoStore);
        app.MapGet("/audit/proof/consistency", ConsistencyAsync).AddEndpointFilter(NoStore);
        app.MapGet("/audit/export", ExportEndpoint.ExportAsync).AddEndpointFilter(NoStore);
        ErasureEndpoint.Map(app).AddEndpointFilter(NoStore);
    }

    /// <summary>
    /// Answers behind an API key hold records (principals the writer decrypted, in CSV) and may differ per caller: without
    /// a Cache-Control a shared cache or proxy between a compliance client and the writer could keep and serve them, also
    /// after an erasure. The viewer already fetched with cache: 'no-store'; other clients did not.
    /// </summary>
    private static ValueTask<object?> NoStore(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        context.HttpContext.Response.Headers.CacheControl = "no-store";
        return next(context);
    }

    private static async Task<IResult> QueryAsync(HttpContext context, AuditLog log, CallerAuthenticator authenticator)
    {
        var (caller, denied) = await AuthorizeAsync(context, authenticator).ConfigureAwait(false);
        if (denied is not null)
        {
            return denied;
        }

        var q = context.Request.Query;
        if (!TryBuildQuery(q, caller!, PageParameters, out var query, out var problem))
        {
            return problem!;
        }

        var limit = 100;
        if (q.ContainsKey("limit") && (!int.TryParse(q["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > MaxLimit))
        {
            return Problems.BadParameter("invalid_limit", "limit", $"limit is 1 to {MaxLimit}.");
        }

        // order= (a script's unset variable) is refused like an empty filter, limit= or cursor=, not read as the default.
        var order = q.ContainsKey("order") ? q["order"].ToString() : "desc";
        if (order is not ("desc" or "asc"))
        {
            return Problems.BadParameter("invalid_order", "order", "order is desc (newest first, the default) or asc (oldest first).");
        }

        long? cursor = null;
        if (q.ContainsKey("cursor"))
        {
            if (!long.TryParse(q["cursor"], NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                return Problems.BadParameter("invalid_cursor", "cursor", "cursor is the 'next' value of a previous page.");
            }

            cursor = parsed;
        }

        var ascending = order == "asc";
        var window = TimeWindow.Of(query!);
        var stored = window.Widen(WithBlindIndex(query!, log)) with { Ascending = ascending, Limit = limit };
        var records = new List<StoredRecord>(Math.Min(limit, 128));
        var leafBytes = 0L;
        var overBudget = false;
        while (true)
        {
            // The store answers whole milliseconds of a window: a record of a bound's millisecond outside it is dropped, and
            // the page is filled from the rows after the last one read, so a full page still ends with a cursor.
            // The store stops reading at the budget left too: it loaded up to limit rows (about 1 GB at Writer:MaxRecordBytes)
            // before this loop looked at their size.
            var budgetLeft = MaxPageLeafBytes - leafBytes;
            var page = log.Store.Query(stored with
            {
                Before = ascending ? null : cursor,
                After = ascending ? cursor : null,
                MaxLeafBytes = budgetLeft,
            });
            var pageLeafBytes = 0L;
            foreach (var record in page)
            {
                pageLeafBytes += record.Leaf.Length;
            }

            foreach (var record in page.Where(window.Contains))
            {
                // The cursor is the last record served, so the record that did not fit opens the next page.
                if (records.Count > 0 && leafBytes + record.Leaf.Length > MaxPageLeafBytes)
                {
                    overBudget = true;
                    break;
                }

                records.Add(record);
                leafBytes += record.Leaf.Length;
                if (records.Count == limit)
                {
                    break;
                }
            }

            // A short page is the end of the matches unless the store stopped it at the budget: then the record that crossed
            // it was a first record served alone, or one of a bound's millisecond the window dropped.
            var stoppedAtBudget = page.Count > 0 && pageLeafBytes > budgetLeft;
            if (overBudget || records.Count == limit || (page.Count < limit && !stoppedAtBudget))
            {
                break;
            }

            cursor = page[^1].Index;
        }

        using var view = new RecordView(log);
        return Results.Json(new
        {
            records = records.Select(view.ToJson).ToList(),
            next = overBudget || records.Count == limit ? records[^1].Index.ToString(CultureInfo.InvariantCulture) : null,
        }, PageJson);
    }

    /// <summary>Who the credentials belong to and what they may do, so a client (the viewer) can shape its UI; the API still decides.</summary>
    private static async Task<IResult> SessionAsync(HttpContext context, CallerAuthenticator authenticator)
    {
        var (caller, denied) = await AuthorizeAsync(context, authenticator).ConfigureAwait(false);
        if ((denied ?? RefuseParameters(context.Request.Query, [])) is { } problem)
        {
            return problem;
        }

        return Results.Json(new
        {
            principal = caller!.Principal,
            tenant = caller.Tenant,
            readAllTenants = caller.CanReadAllTenants,
            erase = caller.CanErase,
        });
    }

    private static async Task<IResult> InclusionAsync(HttpContext context, AuditLog log, CallerAuthenticator authenticator)
    {
        var (caller, denied) = await AuthorizeAsync(context, authenticator).ConfigureAwait(false);
        if ((denied ?? RefuseParameters(context.Request.Query, InclusionParameters)) is { } problem)
        {
            return problem;
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
        if ((denied ?? RefuseParameters(context.Request.Query, ConsistencyParameters)) is { } problem)
        {
            return problem;
        }

        var size = log.Size;
        if (!TryLong(context, "from", out var from) || !TryLong(context, "to", out var to) || from > to || to > size)
        {
            return Problems.BadRequest("invalid_proof_range", $"from and to are integers with 0 <= from <= to <= {size}.");
        }

        return Results.Json(new { proof = log.ConsistencyProof(from, to).Select(Convert.ToBase64String) });
    }

    /// <summary>v2 records have no plaintext principal column: a principal search goes through the keyed blind index.</summary>
    internal static RecordQuery WithBlindIndex(RecordQuery query, AuditLog log) =>
        query.Principal is { } principal ? query with { PrincipalBlind = log.Keyring.BlindPrincipal(principal) } : query;

    internal static bool TryBuildQuery(IQueryCollection q, AuditCaller caller, IReadOnlyCollection<string> otherParameters, out RecordQuery? query, out IResult? problem)
    {
        query = null;
        problem = null;

        if (RefuseParameters(q, [.. Filters, .. otherParameters]) is { } refused)
        {
            problem = refused;
            return false;
        }

        // An empty filter (tenant= from a script whose variable was unset) was read as no filter, so the answer held every
        // record the caller may read, as a misspelt one did. Past this and the check above, a filter is absent or one value.
        if (Filters.FirstOrDefault(name => q.ContainsKey(name) && string.IsNullOrEmpty(q[name])) is { } empty)
        {
            problem = Problems.BadParameter("invalid_filter", empty, $"{empty} is empty; leave a filter out to not filter by it.");
            return false;
        }

        var decision = (string?)q["decision"];
        if (decision is not null && !AuditDecisions.IsKnown(decision))
        {
            // The store compares exactly, so "Deny" or "denied" answered an empty page, read as "nothing was refused".
            problem = Problems.BadRequest("invalid_decision",
                $"'{Truncate(decision)}' is not a decision; decision is one of {string.Join(", ", AuditDecisions.All)} (lowercase).");
            return false;
        }

        var tenant = (string?)q["tenant"];
        if (tenant is not null && !TenantId.IsValid(tenant))
        {
            // The edge records only tenant ids (it answers 400 tenant_invalid to anything else), so such a filter matched
            // nothing: "acme " or "acme' OR 1=1--" answered an empty page, read as "nothing happened in that tenant".
            problem = Problems.BadRequest("invalid_tenant",
                $"'{Truncate(tenant)}' is not a tenant id: 1 to {TenantId.MaxLength} of A-Z a-z 0-9 . _ - and not dots only.");
            return false;
        }

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
            problem = Problems.BadRequest("invalid_time",
                "from and to are RFC 3339 timestamps with an offset (2026-11-01T00:00:00Z, 2026-11-01T01:00:00+01:00) or a date (2026-11-01, midnight UTC); in a URL, write + as %2B.");
            return false;
        }

        if (from > to)
        {
            // Read as an empty window, a reversed range answered "no records", which an auditor takes for "nothing happened".
            problem = Problems.BadRequest("invalid_time_range", "from is after to: from is the inclusive start of the window, to its exclusive end.");
            return false;
        }

        query = new RecordQuery
        {
            Tenant = tenant,
            Id = (string?)q["id"],
            Principal = (string?)q["principal"],
            Route = (string?)q["route"],
            Decision = decision,
            Reason = (string?)q["reason"],
            From = from,
            To = to,
        };
        return true;
    }

    /// <summary>
    /// Every read endpoint refuses a parameter it does not take, or one given twice, with <c>400 invalid_filter</c> naming
    /// it in <c>errors</c>. A misspelt filter (tenat=acme) was ignored, so the answer (and an export handed on as "acme's
    /// records") held every record the caller may read; a repeated one reached the store as "t1,t2", which matches
    /// nothing; on the proofs an unknown parameter was ignored and a repeated one answered a range error naming none.
    /// Names match without case, as the query collection reads them.
    /// </summary>
    internal static IResult? RefuseParameters(IQueryCollection q, IReadOnlyCollection<string> known)
    {
        foreach (var (name, values) in q)
        {
            if (!known.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                var takes = known.Count == 0 ? "this endpoint takes none" : "it takes " + string.Join(", ", known);
                return Problems.BadParameter("invalid_filter", Truncate(name), $"'{Truncate(name)}' is not a parameter here; {takes}.");
            }

            if (values.Count > 1)
            {
                return Problems.BadParameter("invalid_filter", name, $"{name} is given twice; each parameter takes one value (query once per value).");
            }
        }

        return null;
    }

    internal static async Task<(AuditCaller? Caller, IResult? Denied)> AuthorizeAsync(HttpContext context, CallerAuthenticator authenticator)
    {
        var (caller, refusal) = await authenticator.AuthenticateAsync(context.Request).ConfigureAwait(false);
        if (caller is null)
        {
            return (null, refusal);
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
        var text = (string?)q[name];
        if (text is null)
        {
            return true;
        }

        if (Rfc3339.TryParse(text, out var parsed))
        {
            value = parsed;
            return true;
        }

        return false;
    }

    private static bool TryLong(HttpContext context, string name, out long value) =>
        long.TryParse(context.Request.Query[name], NumberStyles.None, CultureInfo.InvariantCulture, out value);

    private static string Truncate(string name) => name.Length <= 64 ? name : name[..64] + "…";
}
