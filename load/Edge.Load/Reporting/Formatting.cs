using System.Globalization;

namespace Edge.Load.Reporting;

internal static class Formatting
{
    public static string Ms(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

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
