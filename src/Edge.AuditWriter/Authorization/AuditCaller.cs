namespace Edge.AuditWriter.Authorization;

/// <summary>An authenticated read-API caller and what it may see.</summary>
internal sealed record AuditCaller(string Principal, string? Tenant, bool CanReadAllTenants, bool CanReadOwnTenant, bool CanErase = false)
{
    public const string ReadPermission = "audit.read";
    public const string ReadAllPermission = "audit.read.all";
    public const string ErasePermission = "audit.erase";

    public bool CanRead => CanReadAllTenants || CanReadOwnTenant;
}
