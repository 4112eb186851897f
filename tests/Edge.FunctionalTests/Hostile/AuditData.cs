using System.Text.Json;

namespace Edge.FunctionalTests.Hostile;

/// <summary>Optional members of a record's <c>data</c>, null when the record has none.</summary>
internal static class AuditData
{
    public static string? Reason(JsonElement audit) => audit.TryGetProperty("reason", out var reason) ? reason.GetString() : null;

    public static long? BytesOut(JsonElement audit) => audit.TryGetProperty("bytesOut", out var bytes) ? bytes.GetInt64() : null;

    public static string? Scheme(JsonElement audit) => audit.TryGetProperty("scheme", out var scheme) ? scheme.GetString() : null;

    public static string? ClientIp(JsonElement audit) =>
        audit.TryGetProperty("subject", out var subject) && subject.TryGetProperty("clientIp", out var ip) ? ip.GetString() : null;
}
