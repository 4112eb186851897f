using System.Buffers;

namespace Edge.Configuration.Tenancy;

/// <summary>
/// Tenant ids become Redis keys and header values, so only <c>[A-Za-z0-9._-]</c>, 1 to 64 characters, are accepted:
/// <c>{</c>, <c>}</c> or <c>:</c> would break key isolation and Redis Cluster hash tags. An id of dots only is refused:
/// <c>.</c> and <c>..</c> are path segments to a backend that puts the tenant in a file or URL path (<c>/data/{tenant}/</c>),
/// and Windows drops trailing dots, so <c>...</c> is <c>..</c> there.
/// </summary>
public static class TenantId
{
    public const int MaxLength = 64;

    private static readonly SearchValues<char> Allowed =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    public static bool IsValid(ReadOnlySpan<char> value) =>
        value.Length is > 0 and <= MaxLength && !value.ContainsAnyExcept(Allowed) && value.ContainsAnyExcept('.');
}
