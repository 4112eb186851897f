using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Edge.Audit.Records;

namespace Edge.Audit.Tests.Records;

public sealed partial class Rfc3339Tests
{
    [Theory]
    [InlineData("2026-12-03T10:00:00Z", "2026-12-03T10:00:00.0000000+00:00")]
    [InlineData("2026-12-03t10:00:00z", "2026-12-03T10:00:00.0000000+00:00")]
    [InlineData("2026-12-03 10:00:00Z", "2026-12-03T10:00:00.0000000+00:00")]
    [InlineData("2026-12-03T10:00:00.5Z", "2026-12-03T10:00:00.5000000+00:00")]
    [InlineData("2026-12-03T10:00:00.123456789Z", "2026-12-03T10:00:00.1234567+00:00")]
    [InlineData("2026-12-03T11:30:00+01:30", "2026-12-03T11:30:00.0000000+01:30")]
    [InlineData("2026-12-03T10:00:00-14:00", "2026-12-03T10:00:00.0000000-14:00")]
    [InlineData("2024-02-29T23:59:59Z", "2024-02-29T23:59:59.0000000+00:00")]
    public void TryParseDateTime_Rfc3339DateTime_IsTheInstantItNames(string text, string expected)
    {
        Assert.True(Rfc3339.TryParseDateTime(text, out var value));
        Assert.Equal(DateTimeOffset.ParseExact(expected, "O", CultureInfo.InvariantCulture), value);
        Assert.Equal(value.Offset, DateTimeOffset.ParseExact(expected, "O", CultureInfo.InvariantCulture).Offset);
    }

    [Theory]
    [InlineData("2026-12-03")]
    [InlineData("2026-12-03T10:00:00")]
    [InlineData("2026-12-03T10:00:00.Z")]
    [InlineData("2026-12-03T10:00Z")]
    [InlineData("2026-12-03T24:00:00Z")]
    [InlineData("2026-12-03T10:00:60Z")]
    [InlineData("2023-02-29T10:00:00Z")]
    [InlineData("2026-12-03T10:00:00+14:01")]
    [InlineData("2026-12-03T10:00:00+01:60")]
    [InlineData("2026-12-03T10:00:00+0100")]
    [InlineData("2026-12-03T10:00:00Z\n")]
    [InlineData(" 2026-12-03T10:00:00Z")]
    [InlineData("0000-12-03T10:00:00Z")]
    [InlineData("2026-12-0٣T10:00:00Z")]
    [InlineData("03/12/2026")]
    [InlineData("")]
    public void TryParseDateTime_NotAnRfc3339DateTime_IsRefused(string text)
    {
        Assert.False(Rfc3339.TryParseDateTime(text, out _));
    }

    [Fact]
    public void TryParse_FullDate_IsMidnightUtc()
    {
        Assert.True(Rfc3339.TryParse("2026-12-03", out var value));
        Assert.Equal(new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero), value);
        Assert.False(Rfc3339.TryParse("2026-02-30", out _));
    }

    [Fact]
    public void TryParse_MutatedTimes_AgreeWithTheGrammarAsARegularExpression()
    {
        // The grammar the parser implements, as the regular expression it replaced (anchored with \z: the old pattern's $
        // also let a trailing newline through).
        var random = new Random(20261204);
        string[] seeds = ["2026-12-03T10:00:00Z", "2026-12-03 10:00:00.123456789+05:30", "1999-01-31t23:59:59.5-00:00", "2024-02-29", "2026-12-03T10:00:00-14:00"];
        const string Alphabet = "0123456789-:TtZz+. \n٣x";
        var checkedCount = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var text = new StringBuilder(seeds[random.Next(seeds.Length)]);
            for (var edits = random.Next(1, 4); edits > 0 && text.Length > 0; edits--)
            {
                var at = random.Next(text.Length);
                switch (random.Next(4))
                {
                    case 0: text[at] = Alphabet[random.Next(Alphabet.Length)]; break;
                    case 1: text.Insert(at, Alphabet[random.Next(Alphabet.Length)]); break;
                    case 2: text.Remove(at, 1); break;
                    default: text.Length = at; break;
                }
            }

            var candidate = text.ToString();
            foreach (var dateOnly in new[] { true, false })
            {
                var expected = Reference(candidate, dateOnly, out var expectedValue);
                var actual = dateOnly ? Rfc3339.TryParse(candidate, out var value) : Rfc3339.TryParseDateTime(candidate, out value);
                Assert.True(expected == actual, $"'{candidate}' (dateOnly {dateOnly}): expected {expected}, parsed {actual}");
                if (expected)
                {
                    Assert.Equal(expectedValue, value);
                    Assert.Equal(expectedValue.Offset, value.Offset);
                    checkedCount++;
                }
            }
        }

        Assert.True(checkedCount > 1000, $"only {checkedCount} mutated times were valid; the corpus tests little");
    }

    private static bool Reference(string text, bool dateOnly, out DateTimeOffset value)
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
            return Rfc3339.TryCreate(Number("year"), Number("month"), Number("day"), 0, 0, 0, TimeSpan.Zero, out value);
        }

        var offset = TimeSpan.Zero;
        if (match.Groups["oh"].Success)
        {
            if (Number("om") > 59)
            {
                return false;
            }

            offset = new TimeSpan(Number("oh"), Number("om"), 0);
            offset = match.Groups["sign"].ValueSpan[0] == '-' ? -offset : offset;
        }

        if (!Rfc3339.TryCreate(Number("year"), Number("month"), Number("day"), Number("hour"), Number("minute"), Number("second"), offset, out value))
        {
            return false;
        }

        var fraction = match.Groups["fraction"].Value;
        if (fraction.Length > 0)
        {
            value = value.AddTicks(long.Parse(fraction.PadRight(7, '0').AsSpan(0, 7), NumberStyles.None, CultureInfo.InvariantCulture));
        }

        return true;
    }

    [GeneratedRegex(@"^(?<year>[0-9]{4})-(?<month>[0-9]{2})-(?<day>[0-9]{2})(?:[Tt ](?<hour>[0-9]{2}):(?<minute>[0-9]{2}):(?<second>[0-9]{2})(?:\.(?<fraction>[0-9]+))?(?:[Zz]|(?<sign>[+-])(?<oh>[0-9]{2}):(?<om>[0-9]{2})))?\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
