using System.Text;
using System.Text.Json;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// Header values sent byte for byte to a real Kestrel edge in front of WireMock: a control character or a byte outside
/// ASCII is refused with 400 <c>header_invalid</c>, audited, before any step and without a byte forwarded (Kestrel used to
/// answer some with a bare 400 and pass the others on, where UTF-8 made the forwarder fail with 502); tabs and visible
/// ASCII pass unchanged.
/// </summary>
public sealed class HeaderValueTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    public static TheoryData<string, byte[]> InvalidValues() => new()
    {
        // Valid UTF-8: Kestrel accepted it and HttpClient refused to forward it (502 backend_unavailable).
        { "/open/header-utf8", Encoding.UTF8.GetBytes("caf\u00e9 \u2615") },
        // A Latin-1 byte that is not UTF-8: Kestrel's bare 400, no record.
        { "/open/header-latin1", [(byte)'c', 0xE9] },
        // Control characters other than NUL, CR and LF: Kestrel forwarded them to the backend.
        { "/open/header-ctl", [(byte)'a', 0x01, (byte)'b'] },
        { "/open/header-del", [(byte)'a', 0x7F] },
        { "/open/header-esc", "\u001b[31mred"u8.ToArray() },
        // On a step route the refusal comes first: not tenant_invalid, whatever header holds the byte.
        { "/tenant/header-utf8", Encoding.UTF8.GetBytes("\u00e9") },
    };

    [Theory]
    [MemberData(nameof(InvalidValues))]
    public async Task AnyRoute_HeaderValueOutsideVisibleAscii_Returns400HeaderInvalidAuditedAndForwardsNothing(string path, byte[] value)
    {
        var calls = fixture.BackendCalls(path);

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, Request(path, "X-Note", value, tenant: "acme"));

        await AssertRefusedAndAuditedAsync(response, path);
        Assert.Equal(calls, fixture.BackendCalls(path));
    }

    public static TheoryData<string, string, byte[]> CheckedHeaders() => new()
    {
        // The header a step reads: refused as a header, not as tenant_invalid or a 401.
        { "/tenant/header-tenant", "X-Tenant-ID", Encoding.UTF8.GetBytes("acm\u00e9") },
        { "/keys/header-key", "X-Api-Key", [0xFF, 0xFE] },
    };

    [Theory]
    [MemberData(nameof(CheckedHeaders))]
    public async Task StepRoute_TheHeaderItsStepReadsHasNonAsciiBytes_Returns400HeaderInvalidBeforeTheStep(string path, string name, byte[] value)
    {
        var calls = fixture.BackendCalls(path);

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, Request(path, name, value, tenant: null));

        await AssertRefusedAndAuditedAsync(response, path);
        Assert.Equal(calls, fixture.BackendCalls(path));
    }

    [Fact]
    public async Task NoRoute_HeaderValueOutsideAscii_Returns400NotThe404AndAuditsIt()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, Request("/no-route-header", "X-Note", [0xE9], tenant: null));

        var audit = await AssertRefusedAndAuditedAsync(response, "/no-route-header");
        Assert.False(audit.TryGetProperty("route", out var route) && route.ValueKind != JsonValueKind.Null);
    }

    [Fact]
    public async Task OpenRoute_TabsAndEveryVisibleAsciiCharacter_ForwardedUnchanged()
    {
        const string path = "/open/header-visible";
        var visible = "a\tb " + string.Concat(Enumerable.Range(0x21, 0x7E - 0x21 + 1).Select(c => (char)c));
        var calls = fixture.BackendCalls(path);

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, Request(path, "X-Note", Encoding.ASCII.GetBytes(visible), tenant: null));

        Assert.True(response.Status == 200, $"got {response.Status} {response.Body}");
        Assert.Equal(calls + 1, fixture.BackendCalls(path));
        var forwarded = fixture.Backend.Received.Last(e => e.RequestMessage?.Path == path).RequestMessage!;
        Assert.Equal(visible, forwarded.Headers!["X-Note"].Single());
    }

    private static byte[] Request(string path, string name, byte[] value, string? tenant)
    {
        var head = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{(tenant is null ? "" : $"X-Tenant-ID: {tenant}\r\n")}{name}: ");
        return [.. head, .. value, .. "\r\n\r\n"u8];
    }

    private async Task<JsonElement> AssertRefusedAndAuditedAsync(RawResponse response, string path)
    {
        Assert.True(response.Status == 400, $"{path}: got {response.Status} {response.Body}");
        Assert.Equal("header_invalid", response.ProblemCode());
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((400, "deny", "Edge", "header_invalid:character"), (audit.GetProperty("status").GetInt32(),
            audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString(), audit.GetProperty("reason").GetString()));
        return audit;
    }
}
