using System.Globalization;

namespace Edge.Load.Reporting;

internal static class Formatting
{
    /// <summary>A latency, or "-" where nothing was measured (an outcome with no responses): 0.000 would read as a measured 0 ms.</summary>
    public static string Ms(double? value) => value is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) : "-";

    /// <summary>A latency for csv: an empty field where nothing was measured, so a spreadsheet or awk does not average in a 0.</summary>
    public static string CsvMs(double? value) => value is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) : "";

    public static string Number(double value) => value.ToString("0.0", CultureInfo.InvariantCulture);

    public static string Count(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Bytes(long value) => value switch
    {
        >= 1L << 30 => (value / (double)(1L << 30)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
        >= 1L << 20 => (value / (double)(1L << 20)).ToString("0.00", CultureInfo.InvariantCulture) + " MiB",
        >= 1L << 10 => (value / 1024.0).ToString("0.00", CultureInfo.InvariantCulture) + " KiB",
        _ => value.ToString(CultureInfo.InvariantCulture) + " B",
    };

    public static string StatusCodes(IReadOnlyList<StatusCodeCount> codes) =>
        codes.Count == 0 ? "-" : string.Join(", ", codes.Select(static c => $"{c.StatusCode}: {c.Count.ToString(CultureInfo.InvariantCulture)}"));
}
