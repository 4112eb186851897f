namespace Edge.AuditWriter.Authorization;

/// <summary>An authenticated read-API caller and what it may see.</summary>
internal sealed record AuditCaller(string Principal, string? Tenant, bool CanReadAllTenants, bool CanReadOwnTenant)
{
    public const string ReadPermission = "audit.read";
    public const string ReadAllPermission = "audit.read.all";
    public const string ErasePermission = "audit.erase";

    /// <summary>May erase subjects: across every tenant with <see cref="CanReadAllTenants"/>, otherwise only in its own tenant.</summary>
    public bool CanErase { get; init; }

    public bool CanRead => CanReadAllTenants || CanReadOwnTenant;
}
