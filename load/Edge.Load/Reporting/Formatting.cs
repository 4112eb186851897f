using System.Globalization;

namespace Edge.Load.Reporting;

internal static class Formatting
{
    /// <summary>A latency, or "-" where nothing was measured (an outcome with no responses): 0.000 would read as a measured 0 ms.</summary>
    public static string Ms(double? value) => value is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) : "-";

    /// <summary>A latency for csv: an empty field where nothing was measured, so a spreadsheet or awk does not average in a 0.</summary>
    public static string CsvMs(double? value) => value is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) : "";

    /// <summary>
    /// A rate for people (md, html, the summary line): three decimals from 1/s up, three significant digits below, so a
    /// run at one request per 30 s reads 0.0333, not 0.0, and 199.46 and 199.54 do not both read 199.5. Trailing zeros go.
    /// </summary>
    public static string Rate(double value)
    {
        if (value is 0 || !double.IsFinite(value) || Math.Abs(value) >= 1)
        {
            return value.ToString("0.###", CultureInfo.InvariantCulture);
        }

        var decimals = Math.Clamp(2 - (int)Math.Floor(Math.Log10(Math.Abs(value))), 3, 12);
        return value.ToString("0." + new string('#', decimals), CultureInfo.InvariantCulture);
    }

    /// <summary>A number for machines (csv): the shortest text that parses back to the same double.</summary>
    public static string Full(double value) => value.ToString("R", CultureInfo.InvariantCulture);

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
