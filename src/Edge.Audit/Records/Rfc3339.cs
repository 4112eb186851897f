using System.Globalization;
using System.Text.RegularExpressions;

namespace Edge.Audit.Records;

/// <summary>
/// RFC 3339 times: the read API's <c>from</c>/<c>to</c> filters (<see cref="TryParse"/>) and a leaf's <c>time</c>
/// (<see cref="TryParseDateTime"/>). The filters take an RFC 3339 date-time with its offset (<c>Z</c> or <c>±hh:mm</c>; <c>T</c>, <c>t</c>
/// or a space between date and time; any number of fraction digits), or a full date, which is midnight UTC.
/// </summary>
/// <remarks>
/// DateTimeOffset.TryParse accepted far more: <c>03/12/2026</c> (read as March 12), <c>Dec 3</c>, a bare <c>10:00</c>
/// (today), and local times without an offset, which it read as UTC. An auditor's export window must not depend on a
/// guess, so anything else is refused.
/// </remarks>
public static partial class Rfc3339
{
    /// <summary>An RFC 3339 date-time with its offset, or a full date (midnight UTC).</summary>
    public static bool TryParse(string text, out DateTimeOffset value) => TryParse(text, dateOnly: true, out value);

    /// <summary>An RFC 3339 date-time with its offset: no bare date, no time without an offset.</summary>
    public static bool TryParseDateTime(string? text, out DateTimeOffset value)
    {
        value = default;
        return text is not null && TryParse(text, dateOnly: false, out value);
    }

    private static bool TryParse(string text, bool dateOnly, out DateTimeOffset value)
    {
        value = default;
        var match = Pattern().Match(text);
        if (!match.Success || (!dateOnly && !match.Groups["hour"].Success))
        {
            return false;
        }

        int Number(string group) => int.Parse(match.Groups[group].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
        if (!match.Groups["hour"].Success)
        {
            return TryCreate(Number("year"), Number("month"), Number("day"), 0, 0, 0, TimeSpan.Zero, out value);
        }

        var offset = TimeSpan.Zero;
        if (match.Groups["oh"].Success)
        {
            offset = new TimeSpan(Number("oh"), Number("om"), 0);
            if (Number("om") > 59)
            {
                return false;
            }

            offset = match.Groups["sign"].ValueSpan[0] == '-' ? -offset : offset;
        }

        if (!TryCreate(Number("year"), Number("month"), Number("day"), Number("hour"), Number("minute"), Number("second"), offset, out value))
        {
            return false;
        }

        // Digits past the seventh are below a tick; they are dropped, not rounded.
        var fraction = match.Groups["fraction"].Value;
        if (fraction.Length > 0)
        {
            var ticks = long.Parse(fraction.PadRight(7, '0').AsSpan(0, 7), NumberStyles.None, CultureInfo.InvariantCulture);
            value = value.AddTicks(ticks);
        }

        return true;
    }

    private static bool TryCreate(int year, int month, int day, int hour, int minute, int second, TimeSpan offset, out DateTimeOffset value)
    {
        value = default;
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59
            || offset.Duration() > TimeSpan.FromHours(14))
        {
            return false;
        }

        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified);
        var utcTicks = local.Ticks - offset.Ticks;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        value = new DateTimeOffset(local, offset);
        return true;
    }

    [GeneratedRegex(@"^(?<year>[0-9]{4})-(?<month>[0-9]{2})-(?<day>[0-9]{2})(?:[Tt ](?<hour>[0-9]{2}):(?<minute>[0-9]{2}):(?<second>[0-9]{2})(?:\.(?<fraction>[0-9]+))?(?:[Zz]|(?<sign>[+-])(?<oh>[0-9]{2}):(?<om>[0-9]{2})))?$", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex Pattern();
}
