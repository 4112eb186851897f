using System.Globalization;
using System.Text;

namespace Edge.Load.Allocations;

/// <summary>The markdown table of <c>edge-load request-alloc</c>.</summary>
internal static class RequestAllocationReport
{
    public static string Markdown(RequestAllocationOptions options, IReadOnlyList<RequestAllocationRow> rows, DateTimeOffset started)
    {
        var direct = rows.FirstOrDefault(static r => r.Target == "direct")?.Median;
        var yarp = rows.FirstOrDefault(static r => r.Target == "yarp")?.Median;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Bytes allocated per request ({started:yyyy-MM-dd HH:mm} UTC, load average {LoadAverage()}): ")
            .Append(CultureInfo.InvariantCulture, $"{options.Warmup} warm-up requests, then {options.Rounds} rounds of {options.Requests} sequential GETs on one keep-alive connection; ")
            .Append("`GC.GetTotalAllocatedBytes(precise: true)` of the whole process (proxy, backend and a client that allocates nothing per request); median of the rounds, min-max beside it. ")
            .AppendLine("The proxy column subtracts `direct` (client and backend alone). CPU: the process's user + system time per request over the same rounds (median); it includes the harness, the backend and, for edge rows, the Redis client, and it moves with the machine's load, unlike the byte counts.")
            .AppendLine()
            .AppendLine("| target | process bytes/request | min-max | proxy bytes/request | added over bare YARP | process CPU µs/request |")
            .AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var row in rows)
        {
            var proxy = row.Target == "direct" || direct is null ? (double?)null : row.Median - direct.Value;
            var added = proxy is null || yarp is null || direct is null || row.Target == "yarp" ? (double?)null : row.Median - yarp.Value;
            text.Append(CultureInfo.InvariantCulture, $"| {row.Description} | {row.Median:F0} | {row.Min:F0}-{row.Max:F0} | ")
                .Append(proxy is null ? "-" : proxy.Value.ToString("F0", CultureInfo.InvariantCulture)).Append(" | ")
                .Append(added is null ? "-" : (added.Value >= 0 ? "+" : "") + added.Value.ToString("F0", CultureInfo.InvariantCulture)).Append(" | ")
                .Append(row.CpuMedian.ToString("F0", CultureInfo.InvariantCulture)).AppendLine(" |");
        }

        foreach (var row in rows.Where(static r => r.SampledTypes.Count > 0))
        {
            text.AppendLine()
                .Append(CultureInfo.InvariantCulture, $"Top types of `{row.Target}` (GCAllocationTick samples over a separate round of {row.SampledRequests} requests; approximate):")
                .AppendLine().AppendLine()
                .AppendLine("| type | ~bytes/request |")
                .AppendLine("|---|---:|");
            foreach (var (type, bytes) in row.SampledTypes)
            {
                text.Append(CultureInfo.InvariantCulture, $"| `{type}` | {bytes:F0} |").AppendLine();
            }
        }

        return text.ToString();
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "unknown";
}
