using System.Buffers;

namespace Edge.Configuration.Tenancy;

/// <summary>
/// Tenant ids become Redis keys and header values, so only <c>[A-Za-z0-9._-]</c>, 1 to 64 characters, are accepted:
/// <c>{</c>, <c>}</c> or <c>:</c> would break key isolation and Redis Cluster hash tags.
/// </summary>
public static class TenantId
{
    public const int MaxLength = 64;

    private static readonly SearchValues<char> Allowed =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    public static bool IsValid(ReadOnlySpan<char> value) =>
        value.Length is > 0 and <= MaxLength && !value.ContainsAnyExcept(Allowed);
}
