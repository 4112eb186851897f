using System.Globalization;
using System.Text;

namespace Edge.Audit.Tiles;

/// <summary>A parsed tile or entry-bundle path; <see cref="Width"/> is 256 for a full tile.</summary>
public readonly record struct TileAddress(bool Entries, int Level, long Index, int Width)
{
    public bool IsPartial => Width < Tile.FullWidth;
}

/// <summary>
/// C2SP tlog-tiles paths: <c>tile/&lt;L&gt;/&lt;N&gt;[.p/&lt;W&gt;]</c> and <c>tile/entries/&lt;N&gt;[.p/&lt;W&gt;]</c>, with N in
/// zero-padded 3-digit groups, all but the last prefixed by <c>x</c> (1234067 is <c>x001/x234/067</c>).
/// </summary>
public static class TilePath
{
    private const int MaxLevel = 63;

    /// <summary>The path below the log prefix, e.g. <c>tile/1/x001/002.p/17</c>.</summary>
    public static string Format(TileAddress address)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(address.Index);
        if (address.Width is < 1 or > Tile.FullWidth)
        {
            throw new ArgumentOutOfRangeException(nameof(address), address.Width, "A tile is 1 to 256 hashes wide.");
        }

        var builder = new StringBuilder("tile/");
        builder.Append(address.Entries ? "entries" : address.Level.ToString(CultureInfo.InvariantCulture));
        var groups = new List<string>();
        var index = address.Index;
        do
        {
            groups.Add((index % 1000).ToString("000", CultureInfo.InvariantCulture));
            index /= 1000;
        }
        while (index > 0);

        for (var i = groups.Count - 1; i >= 0; i--)
        {
            builder.Append(i == 0 ? "/" : "/x").Append(groups[i]);
        }

        if (address.IsPartial)
        {
            builder.Append(".p/").Append(address.Width.ToString(CultureInfo.InvariantCulture));
        }

        return builder.ToString();
    }

    /// <summary>
    /// Parses the part after <c>tile/</c>. Only the canonical spelling is accepted (no leading zeros in L or W, no
    /// empty leading <c>x000</c> group), so one tile has exactly one URL and caches cannot be split.
    /// </summary>
    public static bool TryParse(string? path, out TileAddress address)
    {
        address = default;
        if (string.IsNullOrEmpty(path) || path.Length > 64)
        {
            return false;
        }

        var segments = path.Split('/');
        if (segments.Length < 2)
        {
            return false;
        }

        var entries = segments[0] == "entries";
        var level = 0;
        if (!entries && !TryDecimal(segments[0], MaxLevel, out level))
        {
            return false;
        }

        var width = Tile.FullWidth;
        var last = segments.Length - 1;
        if (segments.Length >= 3 && segments[^2].EndsWith(".p", StringComparison.Ordinal))
        {
            if (!TryDecimal(segments[^1], Tile.FullWidth - 1, out width) || width == 0)
            {
                return false;
            }

            segments[^2] = segments[^2][..^2];
            last--;
        }

        long index = 0;
        for (var i = 1; i <= last; i++)
        {
            var group = segments[i];
            if (i < last)
            {
                if (!group.StartsWith('x'))
                {
                    return false;
                }

                group = group[1..];
            }

            if (group.Length != 3 || !group.All(char.IsAsciiDigit))
            {
                return false;
            }

            // Six groups reach 10^18, still below long.MaxValue; a seventh could overflow.
            if (last > 6)
            {
                return false;
            }

            index = index * 1000 + int.Parse(group, NumberStyles.None, CultureInfo.InvariantCulture);
        }

        address = new TileAddress(entries, level, index, width);
        return Format(address) == "tile/" + path;
    }

    private static bool TryDecimal(string text, int max, out int value)
    {
        value = 0;
        if (text.Length is 0 or > 3 || (text.Length > 1 && text[0] == '0') || !text.All(char.IsAsciiDigit))
        {
            return false;
        }

        value = int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
        return value <= max;
    }
}
