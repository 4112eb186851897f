using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Approvals;

/// <summary>
/// proxy.json and requests for approval tests: a <c>payments</c> route (tenant header, API keys, <c>EdgeApproval</c>) and a
/// catch-all route that forwards everything else, so a swallowed approvals call would show on the backend.
/// </summary>
internal static class ApprovalEdge
{
    /// <summary>acme; may request and (to test four-eyes) approve.</summary>
    public const string AliceKey = "key-alice-acme-requester-0001";

    /// <summary>acme approver.</summary>
    public const string BobKey = "key-bob-acme-approver-0002";

    /// <summary>acme, without the approver permission.</summary>
    public const string CarolKey = "key-carol-acme-viewer-0003";

    /// <summary>globex approver.</summary>
    public const string GretaKey = "key-greta-globex-approver-0004";

    /// <summary>acme approver whose principal is alice's in another case (a second credential of the same person).</summary>
    public const string AliceOtherCaseKey = "key-alice-acme-approver-0005";

    public const string Body = "{\"amount\":100,\"to\":\"DE89\"}";
    public const string PaymentPath = "/payments/transfer?to=42";

    public static string Create(string backendUrl, string ttl = "00:15:00", object? notify = null, bool fourEyes = true, bool auditOptional = false) => ProxyJson.Create(
        backendUrl,
        new Dictionary<string, object>
        {
            ["payments"] = PaymentsRoute(auditOptional),
            ["everything"] = ProxyJson.Route("/{**rest}"),
        },
        new
        {
            Authentication = new Dictionary<string, object>
            {
                ["keys"] = new
                {
                    Type = "ApiKey",
                    Keys = new object[]
                    {
                        new { Sha256 = Sha256Hex(AliceKey), Principal = "alice", Tenant = "acme", Roles = new[] { "Payer", "Approver" } },
                        new { Sha256 = Sha256Hex(BobKey), Principal = "bob", Tenant = "acme", Roles = new[] { "Approver" } },
                        new { Sha256 = Sha256Hex(CarolKey), Principal = "carol", Tenant = "acme", Roles = new[] { "Payer" } },
                        new { Sha256 = Sha256Hex(GretaKey), Principal = "greta", Tenant = "globex", Roles = new[] { "Approver" } },
                        new { Sha256 = Sha256Hex(AliceOtherCaseKey), Principal = "Alice", Tenant = "acme", Roles = new[] { "Approver" } },
                    },
                },
            },
            Roles = new Dictionary<string, string[]> { ["Payer"] = ["payments.create"], ["Approver"] = ["payments.approve"] },
            Approvals = new Dictionary<string, object>
            {
                ["payments"] = notify is null
                    ? new { ApproverPermission = "payments.approve", Authentication = "keys", Ttl = ttl, FourEyes = fourEyes, BindHeaders = BoundHeaders }
                    : new { ApproverPermission = "payments.approve", Authentication = "keys", Ttl = ttl, FourEyes = fourEyes, BindHeaders = BoundHeaders, Notify = notify },
            },
        });

    /// <summary>The payments policy's <c>BindHeaders</c>: the backend takes the account to debit from this header.</summary>
    public static readonly string[] BoundHeaders = ["X-Account-Id"];

    private static object PaymentsRoute(bool auditOptional)
    {
        var route = (Dictionary<string, object>)ProxyJson.Route(
            "/payments/{**rest}",
            new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" },
            new Dictionary<string, string> { ["EdgeAuthenticate"] = "keys" },
            new Dictionary<string, string> { ["EdgeApproval"] = "payments" });
        if (auditOptional)
        {
            route["Metadata"] = new Dictionary<string, string> { ["EdgeAudit"] = "Optional" };
        }

        return route;
    }

    public static HttpRequestMessage Payment(string key = AliceKey, string? token = null, string body = Body, string path = PaymentPath, string tenant = "acme", HttpMethod? method = null)
    {
        var request = new HttpRequestMessage(method ?? HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Tenant-ID", tenant);
        request.Headers.Add("X-Api-Key", key);
        if (token is not null)
        {
            request.Headers.Add("X-Approval-Token", token);
        }

        return request;
    }

    public static HttpRequestMessage Api(HttpMethod method, string path, string key)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Api-Key", key);
        return request;
    }

    /// <summary>Sends the payment without a token; returns the approval id of its 428.</summary>
    public static async Task<string> RequestApprovalAsync(HttpClient client, string body = Body)
    {
        using var response = await client.SendAsync(Payment(body: body));
        var problem = await JsonAsync(response);
        if ((int)response.StatusCode != 428)
        {
            throw new InvalidOperationException($"expected 428, got {(int)response.StatusCode}: {problem}");
        }

        return problem.GetProperty("approvalId").GetString()!;
    }

    /// <summary>Approves as <paramref name="key"/>; returns the token.</summary>
    public static async Task<string> ApproveAsync(HttpClient client, string id, string key = BobKey)
    {
        using var response = await client.SendAsync(Api(HttpMethod.Post, $"/_edge/approvals/{id}/approve", key));
        var json = await JsonAsync(response);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"approve answered {(int)response.StatusCode}: {json}");
        }

        return json.GetProperty("token").GetString()!;
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public static string? Code(JsonElement problem) =>
        problem.ValueKind == JsonValueKind.Object && problem.TryGetProperty("code", out var code) ? code.GetString() : null;

    public static string Sha256Hex(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    public static MediaTypeHeaderValue ProblemJson { get; } = new("application/problem+json");
}
