using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Edge.Audit.Records;
using Edge.AuditWriter.Protection;

namespace Edge.AuditWriter.Tests.Protection;

public sealed class SubjectProtectorTests
{
    private static byte[] V1(string id, string principal, string clientIp) => AuditRecordSerializer.Serialize(new AuditRecord
    {
        Id = id,
        Time = new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero),
        Instance = "edge-1",
        Tenant = "acme",
        Decision = "deny",
        Route = "orders",
        Path = "/orders/1",
        Status = 403,
        LatencyMs = 1.25,
        Subject = new AuditSubject { Principal = principal, ClientIp = clientIp },
    });

    private static byte[] Protect(byte[] v1, string id, byte[] key)
    {
        using var record = System.Text.Json.JsonDocument.Parse(v1);
        using var cipher = SubjectKeyring.CreateCipher(key);
        return SubjectProtector.Protect(record.RootElement, id, SubjectProtector.ReadSubject(record.RootElement), cipher);
    }

    [Fact]
    public void Protect_EdgeRecord_ChangesOnlySchemaAndSubjectAndHoldsNoPlaintext()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var v1 = V1("r1", "alice@example.test", "203.0.113.9");

        var v2 = Protect(v1, "r1", key);

        var text = Encoding.UTF8.GetString(v2);
        Assert.DoesNotContain("alice", text, StringComparison.Ordinal);
        Assert.DoesNotContain("203.0.113.9", text, StringComparison.Ordinal);
        var expected = Encoding.UTF8.GetString(v1)
            .Replace("urn:edge:audit:record:1", "urn:edge:audit:record:2", StringComparison.Ordinal);
        var subjectStart = expected.IndexOf("\"subject\":", StringComparison.Ordinal);
        Assert.Equal(expected[..subjectStart], text[..subjectStart]);
        Assert.StartsWith("\"subject\":{\"protection\":\"aes-256-gcm\",\"nonce\":\"", text[subjectStart..], StringComparison.Ordinal);
    }

    [Fact]
    public void Protect_SubjectWithBanKey_SealsItRevealsItWithTheKeyAndErasesItWithout()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var leaf = AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = "b1",
            Type = AuditEventTypes.ThreatBanned,
            Time = new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero),
            Instance = "edge-1",
            Tenant = "acme",
            Decision = "banned",
            Attributes = new Dictionary<string, string> { ["rule"] = "abuse" },
            Subject = new AuditSubject { Principal = "alice", ClientIp = "203.0.113.9", Details = [new("banKey", "acme:alice"), new("banReason", "ticket 42")] },
        });

        var spliced = Splice(leaf, "b1", key);
        var rewritten = Rewrite(leaf, "b1", key);
        var (revealed, principal) = SubjectProtector.Reveal(spliced, "b1", key);
        var (erased, _) = SubjectProtector.Reveal(spliced, "b1", null);

        Assert.DoesNotContain("acme:alice", Encoding.UTF8.GetString(spliced), StringComparison.Ordinal);
        Assert.DoesNotContain("ticket 42", Encoding.UTF8.GetString(spliced), StringComparison.Ordinal);
        Assert.DoesNotContain("acme:alice", Encoding.UTF8.GetString(rewritten), StringComparison.Ordinal);
        Assert.Equal("alice", principal);
        Assert.Equal(
            "{\"protection\":\"aes-256-gcm\",\"principal\":\"alice\",\"clientIp\":\"203.0.113.9\",\"banKey\":\"acme:alice\",\"banReason\":\"ticket 42\"}",
            revealed["data"]!["subject"]!.ToJsonString());
        Assert.Equal("acme:alice", SubjectProtector.Reveal(rewritten, "b1", key).Record["data"]!["subject"]!["banKey"]!.GetValue<string>());
        Assert.Equal("{\"protection\":\"erased\"}", erased["data"]!["subject"]!.ToJsonString());
    }

    [Fact]
    public void Protect_SubjectWithoutDetails_SealsTheSamePlaintextAsBefore()
    {
        // A subject sealed before details existed ({"principal","clientIp"}) must open the same: the plaintext is unchanged.
        var key = RandomNumberGenerator.GetBytes(32);
        var v2 = Protect(V1("r1", "alice", "203.0.113.9"), "r1", key);
        var subject = System.Text.Json.JsonDocument.Parse(v2).RootElement.GetProperty("data").GetProperty("subject");
        var plaintext = SubjectKeyring.Decrypt(
            key, [.. Convert.FromBase64String(subject.GetProperty("nonce").GetString()!), .. Convert.FromBase64String(subject.GetProperty("ciphertext").GetString()!)], Encoding.UTF8.GetBytes("r1"));

        Assert.Equal("{\"principal\":\"alice\",\"clientIp\":\"203.0.113.9\"}", Encoding.UTF8.GetString(plaintext).TrimEnd(' '));
        Assert.Equal(64, plaintext.Length);
    }

    private static byte[] Splice(byte[] leaf, string id, byte[]? key)
    {
        Assert.NotNull(LeafSummary.TryParse(leaf, out var layout, out var error));
        Assert.Null(error);
        using var cipher = key is null ? null : SubjectKeyring.CreateCipher(key);
        var principal = LeafSummary.TryParse(leaf, out _)!.Principal;
        var subject = principal is null && layout!.Value.ClientIp is null ? null : new PlainSubject(principal, layout!.Value.ClientIp, layout!.Value.SubjectDetails);
        return SubjectProtector.Protect(leaf, layout!.Value, id, subject, cipher);
    }

    private static byte[] Rewrite(byte[] leaf, string id, byte[]? key)
    {
        using var record = System.Text.Json.JsonDocument.Parse(leaf);
        using var cipher = key is null ? null : SubjectKeyring.CreateCipher(key);
        return SubjectProtector.Protect(record.RootElement, id, SubjectProtector.ReadSubject(record.RootElement), cipher);
    }

    private const string Envelope = "\"specversion\":\"1.0\",\"id\":\"r1\",\"source\":\"edge://e\",\"type\":\"edge.decision\",\"time\":\"2026-11-30T08:00:00Z\"";

    [Theory]
    [InlineData("{" + Envelope + ",\"dataschema\":\"urn:edge:audit:record:1\",\"data\":{\"route\":\"orders\",\"subject\":{\"protection\":\"none\"}}}")]
    [InlineData("{" + Envelope + ",\"data\":{\"route\":\"orders\"},\"tenant\":\"acme\"}")]
    [InlineData("{" + Envelope + ",\"data\":{}}")]
    [InlineData("{\"data\":{\"route\":\"orders\"}," + Envelope + ",\"dataschema\":7}")] // a null subject is refused at ingest now
    [InlineData("{" + Envelope + ",\"data\":\"not an object\"}")]
    [InlineData("{" + Envelope + "}")]
    public void Protect_SpliceWithoutSubject_EqualsTheRewriteByteForByte(string leaf)
    {
        var bytes = Encoding.UTF8.GetBytes(leaf);

        Assert.Equal(Encoding.UTF8.GetString(Rewrite(bytes, "r1", null)), Encoding.UTF8.GetString(Splice(bytes, "r1", null)));
    }

    [Fact]
    public void Protect_SpliceOfAnEdgeRecord_EqualsTheRewriteExceptNonceAndCiphertextAndOpensWithTheKey()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var v1 = V1("r1", "alice@example.test", "203.0.113.9");

        var spliced = Encoding.UTF8.GetString(Splice(v1, "r1", key));
        var rewritten = Encoding.UTF8.GetString(Rewrite(v1, "r1", key));

        var nonceStart = rewritten.IndexOf("\"nonce\":\"", StringComparison.Ordinal);
        var afterCiphertext = rewritten.IndexOf('}', rewritten.IndexOf("\"ciphertext\":\"", StringComparison.Ordinal));
        Assert.Equal(rewritten.Length, spliced.Length);
        Assert.Equal(rewritten[..nonceStart], spliced[..nonceStart]);
        Assert.Equal(rewritten[afterCiphertext..], spliced[afterCiphertext..]);
        var (opened, principal) = SubjectProtector.Reveal(Encoding.UTF8.GetBytes(spliced), "r1", key);
        Assert.Equal("alice@example.test", principal);
        Assert.Equal("203.0.113.9", opened["data"]!["subject"]!["clientIp"]!.GetValue<string>());
    }

    [Fact]
    public void Protect_SpliceOfALeafWithWhitespace_KeepsItsBytesAndReplacesOnlySchemaAndSubject()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var leaf = Encoding.UTF8.GetBytes("{ " + Envelope + ", \"dataschema\" : \"x\" ,\n \"data\": { \"subject\" : { \"principal\": \"bob\" } , \"route\": \"r\" } }\n");

        var spliced = Encoding.UTF8.GetString(Splice(leaf, "r1", key));

        Assert.StartsWith("{ " + Envelope + ", \"dataschema\" : \"urn:edge:audit:record:2\" ,\n \"data\": { \"subject\" : {\"protection\":\"aes-256-gcm\"", spliced, StringComparison.Ordinal);
        Assert.EndsWith("} , \"route\": \"r\" } }\n", spliced, StringComparison.Ordinal);
        Assert.DoesNotContain("bob", spliced, StringComparison.Ordinal);
        Assert.Equal("bob", SubjectProtector.Reveal(Encoding.UTF8.GetBytes(spliced), "r1", key).Principal);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(40)]
    [InlineData(450)] // padded to 512: the largest subject sealed on the stack
    [InlineData(2_000)] // sealed in pooled arrays
    public void Protect_SubjectsOfEverySize_PadToTheBlockAndOpen(int principalLength)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var principal = new string('p', principalLength);

        var v2 = Splice(V1("r1", principal, "203.0.113.9"), "r1", key);

        var subject = JsonNode.Parse(v2)!["data"]!["subject"]!;
        var plaintext = $"{{\"principal\":\"{principal}\",\"clientIp\":\"203.0.113.9\"}}".Length;
        Assert.Equal((plaintext / 64 + 1) * 64 + 16, Convert.FromBase64String(subject["ciphertext"]!.GetValue<string>()).Length);
        Assert.Equal(principal, SubjectProtector.Reveal(v2, "r1", key).Principal);
    }

    [Fact]
    public void Protect_ManyRecords_NeverRepeatsANonce()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var v1 = V1("r1", "alice@example.test", "203.0.113.9");

        // More than one pool of nonces (256), so the refill is crossed.
        var nonces = Enumerable.Range(0, 1_000)
            .Select(_ => JsonNode.Parse(Splice(v1, "r1", key))!["data"]!["subject"]!["nonce"]!.GetValue<string>())
            .ToList();

        Assert.Equal(nonces.Count, nonces.Distinct(StringComparer.Ordinal).Count());
        Assert.All(nonces, nonce => Assert.Equal(12, Convert.FromBase64String(nonce).Length));
    }

    [Fact]
    public void Reveal_WithTheKey_ReturnsTheSubjectAndWithoutItErased()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var v2 = Protect(V1("r1", "alice@example.test", "203.0.113.9"), "r1", key);

        var (opened, principal) = SubjectProtector.Reveal(v2, "r1", key);
        var (erased, none) = SubjectProtector.Reveal(v2, "r1", null);
        var (wrongKey, _) = SubjectProtector.Reveal(v2, "r1", RandomNumberGenerator.GetBytes(32));

        Assert.Equal("alice@example.test", principal);
        Assert.Equal("{\"protection\":\"aes-256-gcm\",\"principal\":\"alice@example.test\",\"clientIp\":\"203.0.113.9\"}", opened["data"]!["subject"]!.ToJsonString());
        Assert.Null(none);
        Assert.Equal("{\"protection\":\"erased\"}", erased["data"]!["subject"]!.ToJsonString());
        Assert.Equal("{\"protection\":\"erased\"}", wrongKey["data"]!["subject"]!.ToJsonString());
    }

    [Fact]
    public void Reveal_CiphertextMovedToAnotherRecord_DoesNotOpen()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var first = JsonNode.Parse(Protect(V1("r1", "alice@example.test", "203.0.113.9"), "r1", key))!.AsObject();
        var second = JsonNode.Parse(Protect(V1("r2", "bob@example.test", "203.0.113.10"), "r2", key))!.AsObject();
        second["data"]!["subject"] = first["data"]!["subject"]!.DeepClone();

        var (record, principal) = SubjectProtector.Reveal(Encoding.UTF8.GetBytes(second.ToJsonString()), "r2", key);

        Assert.Null(principal);
        Assert.Equal("{\"protection\":\"erased\"}", record["data"]!["subject"]!.ToJsonString());
    }

    [Fact]
    public void Protect_PrincipalsOfDifferentLengthWithinOnePaddingBlock_GiveCiphertextsOfOneLength()
    {
        var key = RandomNumberGenerator.GetBytes(32);

        var shortOne = JsonNode.Parse(Protect(V1("r1", "al", "192.0.2.1"), "r1", key))!["data"]!["subject"]!["ciphertext"]!.GetValue<string>();
        var longOne = JsonNode.Parse(Protect(V1("r1", "alexandra@example", "192.0.2.1"), "r1", key))!["data"]!["subject"]!["ciphertext"]!.GetValue<string>();

        Assert.Equal(shortOne.Length, longOne.Length);
    }
}
