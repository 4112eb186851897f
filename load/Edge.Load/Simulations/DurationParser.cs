using System.Globalization;

namespace Edge.Load.Simulations;

/// <summary>Parses "500ms", "10s", "2m", "1h", "250us" or a TimeSpan ("00:00:10").</summary>
public static class DurationParser
{
    public static TimeSpan Parse(string text)
    {
        if (!TryParse(text, out var value))
        {
            throw new FormatException($"'{text}' is not a duration (use e.g. 500ms, 10s, 2m, 1h or 00:00:10).");
        }

        return value;
    }

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        var s = text.Trim();
        if (s.Length == 0)
        {
            return false;
        }

        if (s.Contains(':', StringComparison.Ordinal))
        {
            return TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
        }

        (string unit, double factorMs)[] units = [("ms", 1), ("us", 0.001), ("µs", 0.001), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];
        foreach (var (unit, factorMs) in units)
        {
            if (s.EndsWith(unit, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(s[..^unit.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                && number >= 0)
            {
                // "99999999999h" (or "Infinitys") overflowed TimeSpan and ended the tool with a stack trace instead of a usage error.
                var ms = number * factorMs;
                if (!double.IsFinite(ms) || ms >= TimeSpan.MaxValue.TotalMilliseconds)
                {
                    return false;
                }

                value = TimeSpan.FromMilliseconds(ms);
                return true;
            }
        }

        return false;
    }

    public static string Format(TimeSpan value)
    {
        if (value.TotalMilliseconds < 1000)
        {
            return value.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms";
        }

        return value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
    }
}
