using System.Buffers;

namespace Edge.Configuration.Authorization;

/// <summary>Rules for identity values the edge forwards in headers and signs.</summary>
public static class CredentialText
{
    public const int MaxPrincipalLength = 256;
    public const int MaxRoleLength = 64;

    private static readonly SearchValues<char> RoleCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-");

    /// <summary>Visible ASCII only: the principal becomes a header value and a line of the signed identity string.</summary>
    public static bool IsValidPrincipal(ReadOnlySpan<char> value)
    {
        if (value.Length is 0 or > MaxPrincipalLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Role names are joined with commas in <c>X-Edge-Roles</c>, so they exclude commas and whitespace.</summary>
    public static bool IsValidRole(ReadOnlySpan<char> value) =>
        value.Length is > 0 and <= MaxRoleLength && !value.ContainsAnyExcept(RoleCharacters);

    public static bool IsValidPermission(ReadOnlySpan<char> value) =>
        value is "*" || IsValidRole(value);
}
