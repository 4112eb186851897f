namespace Edge.AuditWriter.Authorization;

/// <summary>An authenticated read-API caller and what it may see.</summary>
internal sealed record AuditCaller(string Principal, string? Tenant, IReadOnlySet<string> Permissions)
{
    public const string ReadPermission = "audit.read";
    public const string ReadAllPermission = "audit.read.all";

    public bool CanReadAllTenants => Permissions.Contains(ReadAllPermission) || Permissions.Contains("*");

    public bool CanRead => CanReadAllTenants || Permissions.Contains(ReadPermission);
}
