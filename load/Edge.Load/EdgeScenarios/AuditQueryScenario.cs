using System.Globalization;
using Edge.Load.Http;
using Edge.Load.Scenarios;

namespace Edge.Load.EdgeScenarios;

/// <summary>
/// <c>audit-query</c>: the audit writer's <c>GET /audit/records</c> under the filter mix an auditor or the viewer sends,
/// against a store filled by <c>edge-load audit-fill</c> (the same <see cref="AuditDataset"/> names). Each filter is
/// its own step, so the report has a p99 per filter.
/// </summary>
internal static class AuditQueryScenario
{
    public static readonly string[] Filters =
        ["none", "tenant", "tenant-decision", "tenant-reason", "principal", "route-decision", "reason", "time", "time-wide", "deep-cursor", "asc"];

    public static ScenarioDefinition Create()
    {
        HttpClient client = null!;
        Uri target = null!;
        string header = "X-Api-Key", key = "";
        int tenants = 16, principals = 10_000;
        var records = 1_000_000;
        IReadOnlySet<int> expected = new HashSet<int> { 200 };
        return Scenario.Create("audit-query", ctx =>
            {
                var invocation = ctx.InvocationNumber;
                var filter = Filters[invocation % Filters.Length];
                var query = Query(filter, invocation, tenants, principals, records);
                var request = new HttpRequestMessage(HttpMethod.Get, new Uri(target, "/audit/records?limit=100" + query));
                request.Headers.TryAddWithoutValidation(header, key);
                return ctx.Step(filter, () => HttpStep.SendAsync(client, request, expected, ctx.CancellationToken));
            })
            .WithInit(init =>
            {
                client = init.HttpClient;
                target = init.RequireTarget();
                header = init.GetParameter("key-header", "X-Api-Key");
                key = LoadSecret.Resolve(init.GetParameter("key", "env:EDGE_AUDIT_API_KEY"), "scenario audit-query: auditor API key");
                tenants = init.GetParameter("tenants", 16);
                principals = init.GetParameter("principals", 10_000);
                records = init.GetParameter("records", 1_000_000);
                return Task.CompletedTask;
            });
    }

    /// <summary>
    /// The query string (after <c>limit=100</c>) of one filter; <paramref name="n"/> picks a record index whose tenant,
    /// principal, route and time are used, so every query names values that exist.
    /// </summary>
    public static string Query(string filter, long n, int tenants, int principals, long records)
    {
        // In [1, records - 2], so a cursor always has records on both sides.
        var spread = 1 + (long)(AuditDataset.Mix(n, 9) % (ulong)Math.Max(1, records - 2));
        var tenant = AuditDataset.Tenant(spread, tenants);
        return filter switch
        {
            "none" => "",
            "tenant" => "&tenant=" + tenant,
            "tenant-decision" => $"&tenant={tenant}&decision=deny",
            "tenant-reason" => $"&tenant={tenant}&reason=rate_limited",
            "principal" => "&principal=" + AuditDataset.Principal(spread, principals),
            "route-decision" => $"&route={AuditDataset.Route(spread)}&decision=deny",
            "reason" => "&reason=forbidden",
            "time" => Time(spread, TimeSpan.FromMinutes(1)),
            "time-wide" => Time(0, AuditDataset.Time(records) - AuditDataset.Start + TimeSpan.FromDays(1)),
            "deep-cursor" => "&cursor=" + spread.ToString(CultureInfo.InvariantCulture),
            "asc" => "&order=asc&cursor=" + spread.ToString(CultureInfo.InvariantCulture),
            _ => throw new ArgumentOutOfRangeException(nameof(filter), filter, "unknown filter"),
        };
    }

    /// <summary>A window starting at record <paramref name="index"/>'s time (time-wide: the whole log, both bounds set, as the viewer sends).</summary>
    private static string Time(long index, TimeSpan length)
    {
        var from = AuditDataset.Time(index);
        return "&from=" + Uri.EscapeDataString(from.ToString("O", CultureInfo.InvariantCulture))
            + "&to=" + Uri.EscapeDataString(from.Add(length).ToString("O", CultureInfo.InvariantCulture));
    }
}
