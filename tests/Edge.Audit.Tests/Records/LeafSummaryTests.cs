using System.Text;
using System.Text.Json;
using Edge.Audit.Records;

namespace Edge.Audit.Tests.Records;

public sealed class LeafSummaryTests
{
    private const string Minimal =
        """{"specversion":"1.0","id":"r1","source":"edge://e","type":"dev.edge.audit.request.v1","time":"2026-12-04T10:00:00Z"}""";

    private static readonly AuditRecord s_request = new()
    {
        Id = "req-1",
        Time = new DateTimeOffset(2026, 12, 4, 10, 0, 0, TimeSpan.Zero),
        Instance = "edge-1",
        Tenant = "acme",
        Subject = new AuditSubject { Principal = "alice@example.test", ClientIp = "203.0.113.9" },
        Route = "orders",
        Method = "POST",
        Path = "/orders/\"1\"\t\u00e9\U0001F600",
        Status = 403,
        Decision = "deny",
        Step = "EdgeRequire",
        Reason = "missing_permission",
        BytesIn = 7,
        BytesOut = 120,
        LatencyMs = 1.5,
    };

    private static readonly AuditRecord s_ban = s_request with
    {
        Id = "ban-1",
        Type = AuditEventTypes.ThreatUnbanned,
        Subject = new AuditSubject { ClientIp = "203.0.113.9", Details = [new("banKey", "ip:203.0.113.9"), new("note", "x")] },
    };

    [Fact]
    public void TryParse_EdgeRecord_ReadsTheIndexedFieldsAndTheLayout()
    {
        var leaf = AuditRecordSerializer.Serialize(s_request);

        var summary = LeafSummary.TryParse(leaf, out var layout, out var error);

        Assert.Null(error);
        Assert.Equal(new LeafSummary("req-1", s_request.Time, "acme", "alice@example.test", "orders", "deny", "missing_permission"), summary);
        var found = Assert.NotNull(layout);
        Assert.Equal("\"urn:edge:audit:record:1\"", Encoding.UTF8.GetString(leaf, found.SchemaStart, found.SchemaLength));
        Assert.Equal("""{"protection":"none","principal":"alice@example.test","clientIp":"203.0.113.9"}""",
            Encoding.UTF8.GetString(leaf, found.SubjectStart, found.SubjectLength));
        Assert.Equal(leaf.Length - 1, found.RootEnd);
        Assert.Equal(leaf.Length - 2, found.DataEnd);
        Assert.Equal("203.0.113.9", found.ClientIp);
        Assert.Equal(found, LeafLayout.Of(leaf));
    }

    [Fact]
    public void TryParse_BanRecord_KeepsTheSubjectsOtherStringMembersInOrder()
    {
        var summary = LeafSummary.TryParse(AuditRecordSerializer.Serialize(s_ban), out var layout, out var error);

        Assert.Null(error);
        Assert.Equal(new LeafSummary("ban-1", s_ban.Time, "acme", null, "orders", "deny", "missing_permission"), summary);
        Assert.Equal([new("banKey", "ip:203.0.113.9"), new("note", "x")], layout!.Value.SubjectDetails!);
    }

    [Theory]
    [InlineData("id")]
    [InlineData("tenant")]
    [InlineData("path")]
    public void TryParse_InvalidUtf8InAString_IsRefusedAsText(string member)
    {
        // Before, one in an indexed field threw out of the parse (a 500 from ingest) and one elsewhere was committed,
        // after which every reader of the record that decoded it (the CSV export) failed on it.
        var leaf = WithByte(AuditRecordSerializer.Serialize(s_request with { Id = "r-@", Tenant = "t-@", Path = "/p-@" }), $"\"{member}\":", 0xFF);

        Assert.Null(LeafSummary.TryParse(leaf, out var layout, out var error));
        Assert.Null(layout);
        Assert.Equal(LeafReader.NotText, error);
    }

    [Theory]
    [InlineData("""{"tenant":"\ud800"}""")]
    [InlineData("""{"x":"a\udc00b"}""")]
    [InlineData("""{"x\ud800":1}""")]
    [InlineData("""{"x":"\ud800\u0041"}""")]
    public void TryParse_UnpairedSurrogateEscape_IsRefusedAsText(string extra)
    {
        var leaf = Merge(extra);

        Assert.Null(LeafSummary.TryParse(leaf, out _, out var error));
        Assert.Equal(LeafReader.NotText, error);
    }

    [Fact]
    public void TryParse_InvalidUtf8InAMemberName_IsRefusedAsText()
    {
        var leaf = WithByte(Merge("""{"n@":1}"""), "\"n", 0xC0);

        Assert.Null(LeafSummary.TryParse(leaf, out _, out var error));
        Assert.Equal(LeafReader.NotText, error);
    }

    [Fact]
    public void TryParse_PairedSurrogateEscape_IsText()
    {
        var summary = LeafSummary.TryParse(Merge("""{"tenant":"\ud83d\ude00"}"""), out _, out var error);

        Assert.Null(error);
        Assert.Equal("\U0001F600", summary!.Tenant);
    }

    [Theory]
    [InlineData("""{"i\u0064":"r2"}""")]
    [InlineData("""{"data":{"route":"a","\u0072oute":"b"}}""")]
    [InlineData("""{"data":{"subject":{"principal":"a","principa\u006c":"b"}}}""")]
    [InlineData("""{"x":[1,{"a":1,"a":2}]}""")]
    public void TryParse_RepeatedMemberName_IsRefusedHoweverItIsEscaped(string extra)
    {
        Assert.Null(LeafSummary.TryParse(Merge(extra), out _, out var error));
        Assert.Equal(LeafReader.NotJson, error);
    }

    [Theory]
    [InlineData(17, false)]
    [InlineData(5000, false)]
    [InlineData(5000, true)]
    public void TryParse_ObjectOfManyMembers_FindsARepeatPastTheListLimit(int members, bool repeatFirst)
    {
        var builder = new StringBuilder("{\"many\":{");
        for (var i = 0; i < members; i++)
        {
            builder.Append(CultureInfo(i)).Append(',');
        }

        builder.Append(repeatFirst ? CultureInfo(0) : "\"last\":0").Append("}}");

        var summary = LeafSummary.TryParse(Merge(builder.ToString()), out _, out var error);

        Assert.Equal(repeatFirst ? LeafReader.NotJson : null, error);
        Assert.Equal(repeatFirst, summary is null);

        static string CultureInfo(int i) => $"\"m{i}\":{i}";
    }

    [Fact]
    public void TryParse_AfterARefusalInsideNestedObjects_NextLeafIsReadAfresh()
    {
        // The reader keeps its member-name buffers per thread; a leaf refused half-way must not leave names behind.
        Assert.Null(LeafSummary.TryParse("""{"a":{"b":{"c":1,"c":2}}}"""u8.ToArray(), out _, out _));
        Assert.Null(LeafSummary.TryParse("""{"a":{"b":{"c":1"""u8.ToArray(), out _, out _));

        Assert.NotNull(LeafSummary.TryParse(Merge("""{"a":{"b":{"c":1}}}"""), out _, out var error));
        Assert.Null(error);
    }

    [Fact]
    public void TryParse_Corpus_AgreesWithTheDocumentParser()
    {
        var outcomes = new Dictionary<string, int>();
        foreach (var leaf in Corpus())
        {
            var outcome = AssertAgrees(leaf);
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        // The corpus reaches every kind of answer, not only malformed JSON.
        var seen = string.Join(", ", outcomes.Select(pair => $"{pair.Key}: {pair.Value}"));
        Assert.True(outcomes.GetValueOrDefault("accepted") >= 200, seen);
        Assert.True(outcomes.GetValueOrDefault(LeafReader.NotText) >= 200, seen);
        Assert.True(outcomes.GetValueOrDefault(LeafReader.NotJson) >= 1000, seen);
        Assert.True(outcomes.Count >= 9, seen);
    }

    /// <summary>
    /// The one-pass reader must say what the document parser said: the same error or the same summary and layout. The one
    /// difference allowed is text that cannot be decoded, which the document parser threw on or committed.
    /// </summary>
    private static string AssertAgrees(byte[] leaf)
    {
        LeafSummary? expected = null;
        LeafLayout? expectedLayout = null;
        string? expectedError = null;
        var threw = false;
        try
        {
            expected = DocumentLeafParser.TryParse(leaf, out expectedLayout, out expectedError);
        }
        catch (InvalidOperationException)
        {
            threw = true;
        }

        var actual = LeafSummary.TryParse(leaf, out var layout, out var error);
        var context = Encoding.UTF8.GetString(leaf);
        if (expectedError == LeafReader.NotJson)
        {
            Assert.True(error == LeafReader.NotJson, context);
            Assert.Null(actual);
            return LeafReader.NotJson;
        }

        if (threw || HoldsUndecodableText(leaf))
        {
            Assert.True(error == LeafReader.NotText, context);
            Assert.Null(actual);
            return LeafReader.NotText;
        }

        Assert.True(expectedError == error, $"{context}: {expectedError} / {error}");
        Assert.Equal(expected, actual);
        Assert.Equal(expectedLayout.HasValue, layout.HasValue);
        if (expectedLayout is { } e && layout is { } a)
        {
            Assert.Equal(e with { SubjectDetails = null }, a with { SubjectDetails = null });
            Assert.Equal(e.SubjectDetails ?? [], a.SubjectDetails ?? []);
        }

        return error ?? "accepted";
    }

    /// <summary>An independent check: a string or a member name that <see cref="JsonElement"/> cannot decode.</summary>
    private static bool HoldsUndecodableText(byte[] leaf)
    {
        using var document = JsonDocument.Parse(leaf);
        return Undecodable(document.RootElement);

        static bool Undecodable(JsonElement element)
        {
            try
            {
                switch (element.ValueKind)
                {
                    case JsonValueKind.String:
                        _ = element.GetString();
                        return false;
                    case JsonValueKind.Array:
                        return element.EnumerateArray().Any(Undecodable);
                    case JsonValueKind.Object:
                        return element.EnumerateObject().Any(member => member.Name.Length < 0 || Undecodable(member.Value));
                    default:
                        return false;
                }
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }
    }

    private static IEnumerable<byte[]> Corpus()
    {
        var seeds = new List<byte[]>
        {
            AuditRecordSerializer.Serialize(s_request),
            AuditRecordSerializer.Serialize(s_ban),
            AuditRecordSerializer.Serialize(s_request with { Tenant = null, Subject = AuditSubject.Empty, Reason = null }),
            AuditRecordSerializer.Serialize(s_request with { Type = AuditEventTypes.SubjectErased }),
            Encoding.UTF8.GetBytes(Minimal),
        };
        string[] variants =
        [
            """ { "specversion" : "1.0" , "id" : "r1" , "source" : "s" , "type" : "t" , "time" : "2026-12-04T10:00:00+01:00" , "data" : { } } """,
            """{"data":{"subject":{"principal":"p","protection":"none"},"route":"r"},"time":"2026-12-04T10:00:00Z","type":"t","source":"s","id":"r1","specversion":"1.0"}""",
            """{"specversion":"1\u002e0","\u0069d":"\u0072\u0031","source":"s","type":"t","time":"2026-12-04T10:00:00Z","d\u0061ta":{"s\u0075bject":{"clientIp":"1.2.3.4","k\u0065y":"v\u00e9"}}}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"t","time":"2026-12-04T10:00:00Z","dataschema":{"a":[1,{"b":2}]},"data":[{"route":"x"}]}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"t","time":"2026-12-04T10:00:00Z","dataschema":12.5e3,"data":{"subject":[{"principal":"p"}],"route":1}}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"t","time":"2026-12-04T10:00:00Z","data":{"subject":"plain","x":{"route":"inner","subject":{"principal":"q"}}}}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"t","time":"2026-12-04T10:00:00Z","data":{"subject":{"protection":"aes","principal":"p"}}}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"t","time":"2026-12-04T10:00:00Z","data":{"subject":{"protection":7,"principal":7,"clientIp":null,"other":true}}}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"t","time":"2026-12-04T10:00:00Z","data":{"subject":{}},"x":{"data":{"route":"no"}}}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"t","time":"2026-12-04T10:00:00Z","data":{"decision":"eras\u0065d"}}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"t","time":"2026-12-04T10:00:00Z","data":{"x":{"decision":"erased"}},"decision":"erased"}""",
            """{"specversion":"1.0","id":"r1","source":"","type":"t","time":"2026-12-04T10:00:00Z"}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"","time":"2026-12-04T10:00:00Z"}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"t","time":"2026-12-04"}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"t","time":"2026-12-04T10:00:00"}""",
            """{"specversion":1.0,"id":"r1","source":"s","type":"t","time":"2026-12-04T10:00:00Z"}""",
            """{"specversion":"1.0","id":"","source":"s","type":"t","time":"2026-12-04T10:00:00Z"}""",
            """{"specversion":"1.0","id":5,"source":"s","type":"t","time":"2026-12-04T10:00:00Z"}""",
            """{"specversion":"1.0","id":"r1","source":["s"],"type":"t","time":"2026-12-04T10:00:00Z","tenant":{"t":1}}""",
            """{"specversion":"1.0","id":"r1","source":"s","type":"dev.edge.audit.retention.applied.v1","time":"2026-12-04T10:00:00Z"}""",
            """[{"specversion":"1.0"}]""",
            "\"text\"",
            "12",
            "null",
            "{}",
            "{\"a\":1}\n",
            "{\"a\":1} {\"b\":2}",
            "{\"a\":1,}",
            "{'a':1}",
            "{\"a\":01}",
            "{\"a\":\"\t\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":[1,2,]}",
            "{\"a\":1/*c*/}",
            "\uFEFF{\"a\":1}",
            "{\"a\":1}garbage",
            "{\"a\":tru}",
            "",
            "   ",
        ];
        seeds.AddRange(variants.Select(Encoding.UTF8.GetBytes));
        seeds.Add(Merge($"{{\"id\":\"{new string('x', 128)}\"}}"));
        seeds.Add(Merge($"{{\"id\":\"{new string('x', 129)}\"}}"));
        seeds.Add(Merge($"{{\"id\":\"{string.Concat(Enumerable.Repeat("\\u0078", 129))}\"}}"));
        foreach (var depth in new[] { 62, 63, 64, 65 })
        {
            seeds.Add(Merge($"{{\"deep\":{new string('[', depth - 1)}{new string(']', depth - 1)}}}"));
        }

        var random = new Random(24);
        foreach (var seed in seeds)
        {
            yield return seed;
        }

        foreach (var seed in seeds.Take(3))
        {
            for (var cut = 0; cut < seed.Length; cut++)
            {
                yield return seed[..cut];
            }
        }

        const string Ascii = "{}[]\",:\\u0123456789abcdefDdE+-.ntrsx \t";
        for (var i = 0; i < 6000; i++)
        {
            var leaf = (byte[])seeds[random.Next(seeds.Count)].Clone();
            if (leaf.Length == 0)
            {
                continue;
            }

            switch (random.Next(4))
            {
                case 0:
                    leaf[random.Next(leaf.Length)] = (byte)Ascii[random.Next(Ascii.Length)];
                    break;
                case 1:
                    leaf[random.Next(leaf.Length)] = (byte)random.Next(0x80, 0x100);
                    break;
                case 2:
                    var at = random.Next(leaf.Length);
                    leaf = [.. leaf[..at], .. leaf[(at + 1)..]];
                    break;
                default:
                    // A copied slice: repeated members, members moved into other objects, unbalanced brackets.
                    var start = random.Next(leaf.Length);
                    var length = random.Next(1, Math.Min(40, leaf.Length - start) + 1);
                    var into = random.Next(leaf.Length);
                    leaf = [.. leaf[..into], .. leaf.AsSpan(start, length), .. leaf[into..]];
                    break;
            }

            yield return leaf;
        }
    }

    /// <summary>The minimal record with <paramref name="extra"/>'s members appended (its braces dropped).</summary>
    private static byte[] Merge(string extra) => Encoding.UTF8.GetBytes(Minimal[..^1] + "," + extra[1..]);

    /// <summary>The leaf with the first '@' after <paramref name="after"/> replaced by <paramref name="value"/>.</summary>
    private static byte[] WithByte(byte[] leaf, string after, byte value)
    {
        var from = leaf.AsSpan().IndexOf(Encoding.UTF8.GetBytes(after));
        Assert.True(from >= 0, after);
        var at = from + leaf.AsSpan(from).IndexOf((byte)'@');
        leaf[at] = value;
        return leaf;
    }
}
