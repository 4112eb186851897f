namespace Edge.Configuration.Tenancy;

/// <summary>
/// Options of one <c>EdgeTenant</c> entry: <c>{ "EdgeTenant": "Header", "Name": "X-Tenant-ID", "Required": "true" }</c>.
/// </summary>
internal sealed record TenantStepOptions
{
    public TenantSource Source { get; init; }

    /// <summary>Header name (Header) or claim type (Claim).</summary>
    public string? Name { get; init; }

    /// <summary>Route value from the route's Match path pattern (Path), e.g. <c>tenant</c> for <c>/t/{tenant}/{**rest}</c>.</summary>
    public string? RouteValue { get; init; }

    /// <summary>Zero-based path segment index (Path), an alternative to <see cref="RouteValue"/>.</summary>
    public int? Segment { get; init; }

    /// <summary>The fixed tenant (Static).</summary>
    public string? Value { get; init; }

    /// <summary>A missing tenant is refused with 400 when true (the default).</summary>
    public bool Required { get; init; } = true;
}
