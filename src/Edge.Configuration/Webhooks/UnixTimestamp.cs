using System.Globalization;

namespace Edge.Configuration.Webhooks;

internal static class UnixTimestamp
{
    /// <summary>Parses whole seconds since the epoch: digits only, no sign, no spaces, no exponent.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out long seconds)
    {
        seconds = 0;
        if (text.Length is 0 or > 12)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out seconds);
    }
}
