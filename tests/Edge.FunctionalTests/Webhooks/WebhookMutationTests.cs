using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>
/// For every scheme, at least 20 tampered deliveries are refused with the right code and the backend receives nothing.
/// </summary>
public sealed class WebhookMutationTests(WebhookEdgeFixture fixture) : IClassFixture<WebhookEdgeFixture>
{
    private const long Tolerance = 300;

    private sealed record Mutation(string Code, Func<SchemeUnderTest, bool> Applies, Func<SchemeUnderTest, WebhookEdgeFixture, Delivery> Build, bool SendsOriginalFirst = false);

    private static readonly Dictionary<string, Mutation> Mutations = new()
    {
        ["body_flip_first_byte"] = BodyMutation(b => Flip(b, 0)),
        ["body_flip_middle_byte"] = BodyMutation(b => Flip(b, b.Length / 2)),
        ["body_flip_last_byte"] = BodyMutation(b => Flip(b, b.Length - 1)),
        ["body_trailing_newline"] = BodyMutation(b => [.. b, (byte)'\n']),
        ["body_extra_whitespace"] = BodyMutation(b => [b[0], (byte)' ', .. b[1..]]),
        ["body_crlf_line_ending"] = BodyMutation(b => [.. b, (byte)'\r', (byte)'\n']),
        ["body_json_reencoded"] = BodyMutation(b => Encoding.UTF8.GetBytes(JsonNode.Parse(b)!.ToJsonString())),
        ["body_truncated"] = BodyMutation(b => b[..^1]),
        ["body_emptied"] = BodyMutation(_ => []),
        ["body_utf8_bom_prepended"] = BodyMutation(b => [0xEF, 0xBB, 0xBF, .. b]),
        ["body_of_another_delivery"] = new(Invalid, s => s.SignsBody, (s, f) => f.Valid(s).WithBody(f.Valid(s).Body)),
        ["signature_flip_first_char"] = SignatureMutation((s, e) => ReplaceAt(e, 0, s.Kind)),
        ["signature_flip_last_char"] = SignatureMutation((s, e) => ReplaceAt(e, e.TrimEnd('=').Length - (s.Kind == SignatureKind.Base64 ? 2 : 1), s.Kind)),
        ["signature_upper_case"] = SignatureMutation((_, e) => e.ToUpperInvariant(), s => s.Kind != SignatureKind.Base64),
        ["signature_truncated"] = SignatureMutation((s, e) => s.Kind == SignatureKind.Base64 ? e.TrimEnd('=') : e[..^2]),
        ["signature_truncated_base64_block"] = SignatureMutation((_, e) => e[..^4], s => s.Kind == SignatureKind.Base64),
        ["signature_garbage"] = SignatureMutation((_, _) => "not-a-signature"),
        ["signature_wrong_version_prefix"] = new(Invalid, _ => true, (s, f) => WithSignatureHeader(s, f.Valid(s), v => WrongPrefix(s, v))),
        ["signature_header_missing"] = new("signature_missing", _ => true, (s, f) => f.Valid(s).WithoutHeader(s.SignatureHeader)),
        ["signature_header_empty"] = new("signature_missing", _ => true, (s, f) => f.Valid(s).WithHeader(s.SignatureHeader, "")),
        ["wrong_secret"] = new(Invalid, _ => true, (s, f) => f.Valid(s, wrongSecret: true)),
        ["timestamp_too_old"] = new("timestamp_out_of_window", s => s.HasTimestamp, (s, f) => f.Valid(s, f.Now - Tolerance - 1)),
        ["timestamp_in_future"] = new("timestamp_out_of_window", s => s.HasTimestamp, (s, f) => f.Valid(s, f.Now + Tolerance + 1)),
        ["timestamp_changed_after_signing"] = new(Invalid, s => s.HasTimestamp, (s, f) => s.SetTimestamp!(f.Valid(s, f.Now - 10), f.Now - 9)),
        ["replayed_delivery"] = new("replayed_delivery", s => s.HasReplayId, (s, f) => f.Valid(s), SendsOriginalFirst: true),
        ["token_extended"] = TokenMutation(t => t + "x"),
        ["token_lower_case"] = TokenMutation(t => t.ToLowerInvariant()),
        ["token_first_char_dropped"] = TokenMutation(t => t[1..]),
        ["token_doubled"] = TokenMutation(t => t + t),
        ["token_reversed"] = TokenMutation(t => new string(t.Reverse().ToArray())),
        ["token_inner_space"] = TokenMutation(t => t[..5] + " " + t[5..]),
        ["token_hex_encoded"] = TokenMutation(t => Convert.ToHexStringLower(Encoding.UTF8.GetBytes(t))),
        ["token_base64_encoded"] = TokenMutation(t => Convert.ToBase64String(Encoding.UTF8.GetBytes(t))),
        ["token_of_another_bot"] = TokenMutation(_ => WebhookSchemes.GitHubSecret.Replace(" ", "-").Replace("'", "")),
        ["token_bearer_prefixed"] = TokenMutation(t => "Bearer " + t),
        ["token_middle_char_changed"] = TokenMutation(t => ReplaceAt(t, t.Length / 2, SignatureKind.Token)),
    };

    private const string Invalid = "signature_invalid";

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var scheme in WebhookSchemes.All.Values)
        {
            foreach (var (name, mutation) in Mutations)
            {
                if (mutation.Applies(scheme))
                {
                    data.Add(scheme.Name, name);
                }
            }
        }

        return data;
    }

    [Fact]
    public void Cases_EveryScheme_HasAtLeastTwentyMutations()
    {
        foreach (var scheme in WebhookSchemes.All.Values)
        {
            Assert.True(Mutations.Values.Count(m => m.Applies(scheme)) >= 20, $"{scheme.Name} has fewer than 20 mutations");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Delivery_Mutated_RefusedAndNothingForwarded(string schemeName, string mutationName)
    {
        var scheme = WebhookSchemes.All[schemeName];
        var mutation = Mutations[mutationName];
        fixture.Backend.Server.ResetLogEntries();
        var delivery = mutation.Build(scheme, fixture);

        if (mutation.SendsOriginalFirst)
        {
            using var first = await fixture.Edge.Client.SendAsync(delivery.ToRequest());
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Single(fixture.Backend.Received);
        }

        using var response = await fixture.Edge.Client.SendAsync(delivery.ToRequest());

        var expectedStatus = mutation.Code switch
        {
            "replayed_delivery" => HttpStatusCode.Conflict,
            _ => HttpStatusCode.Unauthorized,
        };
        Assert.Equal(expectedStatus, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(mutation.Code, problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(mutation.SendsOriginalFirst ? 1 : 0, fixture.Backend.Received.Count);
    }

    private static Mutation BodyMutation(Func<byte[], byte[]> mutate) =>
        new(Invalid, s => s.SignsBody, (s, f) =>
        {
            var valid = f.Valid(s);
            var body = mutate(valid.Body);
            Assert.NotEqual(valid.Body, body);
            return valid.WithBody(body);
        });

    private static Mutation SignatureMutation(Func<SchemeUnderTest, string, string> mutateEncoded, Func<SchemeUnderTest, bool>? applies = null) =>
        new(Invalid, s => applies?.Invoke(s) ?? true, (s, f) => WithSignatureHeader(s, f.Valid(s), value =>
        {
            var (before, encoded) = s.SplitSignature(value);
            var mutated = mutateEncoded(s, encoded);
            Assert.NotEqual(encoded, mutated);
            return before + mutated;
        }));

    private static Mutation TokenMutation(Func<string, string> mutate) =>
        new(Invalid, s => s.Kind == SignatureKind.Token, (s, f) => WithSignatureHeader(s, f.Valid(s), mutate));

    private static Delivery WithSignatureHeader(SchemeUnderTest scheme, Delivery delivery, Func<string, string> mutate) =>
        delivery.WithHeader(scheme.SignatureHeader, mutate(delivery.Header(scheme.SignatureHeader)!));

    private static string WrongPrefix(SchemeUnderTest scheme, string value) => scheme.Marker switch
    {
        "sha256=" => value.Replace("sha256=", "sha1=", StringComparison.Ordinal),
        "v1=" => value.Replace("v1=", "v0=", StringComparison.Ordinal),
        "v0=" => value.Replace("v0=", "v1=", StringComparison.Ordinal),
        "v1," => value.Replace("v1,", "v2,", StringComparison.Ordinal),
        "v1a," => value.Replace("v1a,", "v1,", StringComparison.Ordinal),
        _ => "sha512=" + value,
    };

    private static byte[] Flip(byte[] body, int index)
    {
        var copy = body.ToArray();
        copy[index] ^= 0x01;
        return copy;
    }

    private static string ReplaceAt(string text, int index, SignatureKind kind)
    {
        var replacement = kind switch
        {
            SignatureKind.Hex => text[index] == '0' ? '1' : '0',
            SignatureKind.Base64 => text[index] == 'A' ? 'B' : 'A',
            _ => text[index] == 'a' ? 'b' : 'a',
        };
        return text[..index] + replacement + text[(index + 1)..];
    }
}
