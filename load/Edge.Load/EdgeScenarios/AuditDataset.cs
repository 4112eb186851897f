using System.Globalization;
using Edge.Audit.Records;
using Edge.Audit.Storage;

namespace Edge.Load.EdgeScenarios;

/// <summary>
/// The synthetic audit trail that <c>edge-load audit-fill</c> writes and the <c>audit-query</c> scenario searches:
/// both derive tenant, principal, route and reason names from the same formulas, so the queries hit real rows.
/// Record i: tenant <c>t{Mix(i, 1) % tenants}</c>, principal <c>user-{Mix(i, 2) % principals}</c>, route
/// <c>route-{Mix(i, 3) % 8}</c>, a deny when <c>Mix(i, 4) % 10 == 0</c> (half <c>rate_limited</c>, half <c>forbidden</c>),
/// one record every 10 ms from <see cref="Start"/>. The independent hashes keep every combination populated, as real
/// traffic would, instead of the aliasing that plain <c>i % n</c> columns produce.
/// </summary>
public static class AuditDataset
{
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public const int Routes = 8;

    public static string Tenant(long i, int tenants) => "t" + (Mix(i, 1) % (ulong)tenants).ToString(CultureInfo.InvariantCulture);

    public static string Principal(long i, int principals) => "user-" + (Mix(i, 2) % (ulong)principals).ToString(CultureInfo.InvariantCulture);

    public static string Route(long i) => "route-" + (Mix(i, 3) % Routes).ToString(CultureInfo.InvariantCulture);

    /// <summary>SplitMix64 of (i, column): a cheap, well-spread, deterministic hash.</summary>
    public static ulong Mix(long i, int column)
    {
        var z = (ulong)i * 0x9E3779B97F4A7C15UL + (ulong)column * 0xD1B54A32D192ED03UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static DateTimeOffset Time(long i) => Start.AddMilliseconds(i * 10);

    public static PendingLeaf Leaf(long i, int tenants, int principals, string idPrefix = "rec-")
    {
        var deny = Mix(i, 4) % 10 == 0;
        var limited = Mix(i, 5) % 2 == 0;
        var record = new AuditRecord
        {
            // Zero-padded so ids sort in the order records are made, as an edge's UUIDv7 ids do: unpadded, "rec-10" sorted
            // before "rec-2" and every insert landed at a scattered place in the writer's record_id index.
            Id = idPrefix + i.ToString("D12", CultureInfo.InvariantCulture),
            Time = Time(i),
            Instance = "edge-load",
            Tenant = Tenant(i, tenants),
            Route = Route(i),
            Method = "GET",
            Path = "/orders/" + (i % 1000).ToString(CultureInfo.InvariantCulture),
            Status = deny ? (limited ? 429 : 403) : 200,
            Decision = deny ? "deny" : "allow",
            Step = deny ? (limited ? "EdgeRateLimit" : "EdgeAuthorization") : null,
            Reason = deny ? (limited ? "rate_limited" : "forbidden") : null,
            Subject = new AuditSubject { Principal = Principal(i, principals), ClientIp = "10.0." + (i % 250).ToString(CultureInfo.InvariantCulture) + ".1" },
        };
        var bytes = AuditRecordSerializer.Serialize(record);
        return new PendingLeaf(bytes, LeafSummary.TryParse(bytes, out var error) ?? throw new InvalidOperationException(error));
    }

    /// <summary>
    /// Appends records [<paramref name="start"/>, <paramref name="records"/>) in batches through <paramref name="append"/>
    /// (the writer's <c>AuditLog.AppendAsync</c>, which protects each subject as ingest does); returns how many were written.
    /// </summary>
    public static async Task<long> FillAsync(
        long start, long records, int tenants, int principals, Func<IReadOnlyList<PendingLeaf>, Task> append, Action<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(append);
        const int BatchSize = 10_000;
        for (var next = start; next < records; next += BatchSize)
        {
            var batch = new List<PendingLeaf>(BatchSize);
            for (var i = next; i < Math.Min(records, next + BatchSize); i++)
            {
                batch.Add(Leaf(i, tenants, principals));
            }

            await append(batch).ConfigureAwait(false);
            progress?.Invoke(next + batch.Count);
        }

        return Math.Max(0, records - start);
    }
}
