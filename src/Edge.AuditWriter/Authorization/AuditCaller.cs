namespace Edge.AuditWriter.Authorization;

/// <summary>An authenticated read-API caller and what it may see.</summary>
internal sealed record AuditCaller(string Principal, string? Tenant, bool CanReadAllTenants, bool CanReadOwnTenant, bool CanErase = false, bool CanReadTiles = false)
{
    public const string ReadPermission = "audit.read";
    public const string ReadAllPermission = "audit.read.all";
    public const string ErasePermission = "audit.erase";

    /// <summary>Hash tiles only (a witness or monitor following the log): no record, no entry bundle.</summary>
    public const string TilesPermission = "audit.tiles";

    public bool CanRead => CanReadAllTenants || CanReadOwnTenant;
}
