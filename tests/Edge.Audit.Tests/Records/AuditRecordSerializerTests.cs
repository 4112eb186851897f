using System.Text;
using System.Text.Json;
using Edge.Audit.Records;

namespace Edge.Audit.Tests.Records;

public sealed class AuditRecordSerializerTests
{
    private static AuditRecord Sample() => new()
    {
        Id = "req-1",
        Time = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero),
        Instance = "edge-1",
        Tenant = "acme",
        Subject = new AuditSubject { Principal = "alice", ClientIp = "10.0.0.1" },
        Route = "orders",
        Destination = "http://127.0.0.1:9001/",
        Method = "POST",
        Path = "/orders/1",
        Status = 403,
        Decision = "deny",
        Step = "EdgeRequire",
        Reason = "missing_permission",
        BodyHash = BodyHash.Compute("{\"a\":1}"u8),
        BytesIn = 7,
        BytesOut = 120,
        LatencyMs = 1.5,
        TraceId = "4bf92f3577b34da6a3ce929d0e0e4736",
    };

    [Fact]
    public void Serialize_Record_IsOneLineCloudEventsEnvelope()
    {
        var bytes = AuditRecordSerializer.Serialize(Sample());
        var text = Encoding.UTF8.GetString(bytes);

        Assert.DoesNotContain('\n', text);
        using var json = JsonDocument.Parse(bytes);
        var root = json.RootElement;
        Assert.Equal("1.0", root.GetProperty("specversion").GetString());
        Assert.Equal("req-1", root.GetProperty("id").GetString());
        Assert.Equal("edge://edge-1", root.GetProperty("source").GetString());
        Assert.Equal(AuditEventTypes.Request, root.GetProperty("type").GetString());
        Assert.Equal("acme", root.GetProperty("tenant").GetString());
        Assert.Equal("2026-11-23T12:00:00.0000000Z", root.GetProperty("time").GetString());
        var data = root.GetProperty("data");
        Assert.Equal("deny", data.GetProperty("decision").GetString());
        Assert.Equal("none", data.GetProperty("subject").GetProperty("protection").GetString());
        Assert.Equal("alice", data.GetProperty("subject").GetProperty("principal").GetString());
        Assert.Equal(BodyHash.Algorithm, data.GetProperty("bodyHash").GetProperty("alg").GetString());
        Assert.StartsWith("{\"specversion\":\"1.0\",\"id\":\"req-1\",\"source\":", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Serialize_EveryField_CanonicalBytesUnchanged()
    {
        // The leaf bytes are what the Merkle tree hashes: any change to them, even a reordered member, breaks
        // verification of old records against new ones. Pinned from the serializer before it reused its writer.
        var record = Sample() with
        {
            BodyHash = null,
            RateLimit = "allowed",
            SignatureScheme = "github",
            SignatureResult = "valid",
            AuthMethod = "jwt",
            Attributes = new Dictionary<string, string> { ["b"] = "2", ["a"] = "1\"" },
            Time = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero).AddTicks(1234567),
        };

        var text = Encoding.UTF8.GetString(AuditRecordSerializer.Serialize(record));

        Assert.Equal(PinnedLeaf, text);
    }

    [Fact]
    public void Serialize_TraceIdAsSliceOfALongerString_SameBytesAsTheString()
    {
        // The edge passes its trace id as a slice of the request's traceparent; the leaf must be the one a string gives.
        var record = Sample();
        var fromRecord = AuditRecordSerializer.Serialize(record);
        var traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        var fields = AuditRecordFields.From(record with { TraceId = null });
        var output = new System.Buffers.ArrayBufferWriter<byte>();

        AuditRecordSerializer.Serialize(fields with { TraceId = traceParent.AsMemory(3, 32) }, output);

        Assert.Equal(Encoding.UTF8.GetString(fromRecord), Encoding.UTF8.GetString(output.WrittenSpan));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("", true)]
    public void Serialize_TraceIdNullOrEmpty_OmittedOrWrittenEmpty(string? traceId, bool written)
    {
        using var json = JsonDocument.Parse(AuditRecordSerializer.Serialize(Sample() with { TraceId = traceId }));

        var data = json.RootElement.GetProperty("data");
        Assert.Equal(written, data.TryGetProperty("traceId", out var value));
        if (written)
        {
            Assert.Equal("", value.GetString());
        }
    }

    [Fact]
    public void Serialize_TwoOutputsOnOneThread_EachGetsItsOwnCompleteRecord()
    {
        var first = new System.Buffers.ArrayBufferWriter<byte>();
        var second = new System.Buffers.ArrayBufferWriter<byte>();

        var record = Sample() with { BodyHash = null };

        AuditRecordSerializer.Serialize(record, first);
        AuditRecordSerializer.Serialize(record with { Id = "req-2" }, second);

        Assert.Equal(AuditRecordSerializer.Serialize(record), first.WrittenSpan.ToArray());
        Assert.Equal(AuditRecordSerializer.Serialize(record with { Id = "req-2" }), second.WrittenSpan.ToArray());
    }

    [Fact]
    public void Serialize_IntoReusedBuffer_AllocatesNothing()
    {
        // Serialisation runs on every proxied request: no writer, time string or source string per record.
        var record = Sample();
        var output = new System.Buffers.ArrayBufferWriter<byte>(4096);
        AuditRecordSerializer.Serialize(record, output);

        output.ResetWrittenCount();
        var before = GC.GetAllocatedBytesForCurrentThread();
        AuditRecordSerializer.Serialize(record, output);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(AuditRecordSerializer.Serialize(record), output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Serialize_LongInstanceName_SourceCarriesItWhole()
    {
        var instance = new string('i', 2000) + "\"";

        using var json = JsonDocument.Parse(AuditRecordSerializer.Serialize(Sample() with { Instance = instance }));

        Assert.Equal("edge://" + instance, json.RootElement.GetProperty("source").GetString());
    }

    private const string PinnedLeaf = """
        {"specversion":"1.0","id":"req-1","source":"edge://edge-1","type":"dev.edge.audit.request.v1","time":"2026-11-23T12:00:00.1234567Z","tenant":"acme","datacontenttype":"application/json","dataschema":"urn:edge:audit:record:1","data":{"instance":"edge-1","route":"orders","destination":"http://127.0.0.1:9001/","method":"POST","path":"/orders/1","status":403,"decision":"deny","step":"EdgeRequire","reason":"missing_permission","authMethod":"jwt","rateLimit":"allowed","signature":{"scheme":"github","result":"valid"},"bytesIn":7,"bytesOut":120,"latencyMs":1.5,"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","attributes":{"a":"1\"","b":"2"},"subject":{"protection":"none","principal":"alice","clientIp":"10.0.0.1"}}}
        """;

    [Fact]
    public void Serialize_RateLimitFallback_WrittenOnlyWhenTheOutageModeAnswered()
    {
        var fallback = Sample() with { RateLimit = "redis-unavailable-local-allowed", RateLimitFallback = "no_answer" };

        using var withFallback = JsonDocument.Parse(AuditRecordSerializer.Serialize(fallback));
        using var withoutFallback = JsonDocument.Parse(AuditRecordSerializer.Serialize(Sample() with { RateLimit = "allowed" }));

        Assert.Equal("no_answer", withFallback.RootElement.GetProperty("data").GetProperty("rateLimitFallback").GetString());
        Assert.False(withoutFallback.RootElement.GetProperty("data").TryGetProperty("rateLimitFallback", out _));
    }

    [Fact]
    public void Serialize_SameRecordTwice_ProducesIdenticalBytes()
    {
        var record = Sample();
        Assert.Equal(AuditRecordSerializer.Serialize(record), AuditRecordSerializer.Serialize(record));
    }

    [Fact]
    public void BodyHash_SameBodyTwice_DiffersBySaltButBothMatch()
    {
        var first = BodyHash.Compute("secret body"u8);
        var second = BodyHash.Compute("secret body"u8);

        Assert.NotEqual(first.Value, second.Value);
        Assert.True(first.Matches("secret body"u8));
        Assert.True(second.Matches("secret body"u8));
        Assert.False(first.Matches("other body"u8));
    }

    [Fact]
    public void LeafSummary_SerializedRecord_ExtractsIndexedFields()
    {
        var summary = LeafSummary.TryParse(AuditRecordSerializer.Serialize(Sample()), out var error);

        Assert.Null(error);
        Assert.Equal(new LeafSummary("req-1", Sample().Time, "acme", "alice", "orders", "deny", "missing_permission"), summary);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1,2]", "JSON object")]
    [InlineData("{\"specversion\":\"0.3\",\"id\":\"a\",\"source\":\"s\",\"type\":\"t\",\"time\":\"2026-01-01T00:00:00Z\"}", "specversion")]
    [InlineData("{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\",\"time\":\"2026-01-01T00:00:00Z\"}", "id is required")]
    public void LeafSummary_NotAnEnvelope_ReturnsError(string leaf, string expected)
    {
        Assert.Null(LeafSummary.TryParse(Encoding.UTF8.GetBytes(leaf), out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":\"t\",\"time\":\"2026-01-01T00:00:00Z\",\"data\":{\"decision\":\"allow\",\"subject\":{\"protection\":\"aes-256-gcm\",\"nonce\":\"AA==\",\"ciphertext\":\"AA==\"}}}", "protection must be none")]
    [InlineData("{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":\"dev.edge.audit.subject.erased.v1\",\"time\":\"2026-01-01T00:00:00Z\"}", "written by the audit writer")]
    [InlineData("{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":\"dev.edge.audit.retention.applied.v1\",\"time\":\"2026-01-01T00:00:00Z\"}", "written by the audit writer")]
    [InlineData("{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":\"t\",\"time\":\"2026-01-01T00:00:00Z\",\"data\":{\"subject\":{\"principal\":\"x\"},\"subject\":{\"principal\":\"y\"}}}", "not valid JSON")]
    public void LeafSummary_WhatOnlyTheWriterMayWrite_IsRefused(string leaf, string expected)
    {
        Assert.Null(LeafSummary.TryParse(Encoding.UTF8.GetBytes(leaf), out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("03/12/2026 10:00:00 +00:00")]
    [InlineData("Thu, 03 Dec 2026 10:00:00 GMT")]
    [InlineData("10:00")]
    [InlineData("2026-12-03")]
    [InlineData("2026-12-03T10:00:00")]
    [InlineData("2026-12-03T10:00:00.5")]
    [InlineData("2026-13-03T10:00:00Z")]
    public void LeafSummary_TimeNotAnRfc3339DateTime_IsRefused(string time)
    {
        // The indexed time decides the read API's from/to window, retention and erasure; DateTimeOffset.TryParse read
        // "03/12/2026" as March 12, "10:00" as today and an offsetless time as UTC, not what a reader of the leaf sees.
        var leaf = "{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":\"t\",\"time\":\"" + time + "\"}";

        Assert.Null(LeafSummary.TryParse(Encoding.UTF8.GetBytes(leaf), out var error));
        Assert.Contains("RFC 3339", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2026-12-03T10:00:00Z", "2026-12-03T10:00:00+00:00")]
    [InlineData("2026-12-03T10:00:00.1234567Z", "2026-12-03T10:00:00.1234567+00:00")]
    [InlineData("2026-12-03T11:00:00+01:00", "2026-12-03T10:00:00+00:00")]
    [InlineData("2026-12-03t10:00:00z", "2026-12-03T10:00:00+00:00")]
    public void LeafSummary_Rfc3339DateTime_IndexesTheInstantItNames(string time, string instant)
    {
        var leaf = "{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":\"t\",\"time\":\"" + time + "\"}";

        var summary = LeafSummary.TryParse(Encoding.UTF8.GetBytes(leaf), out var error);

        Assert.Null(error);
        Assert.Equal(DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture), summary!.Time);
    }
}
