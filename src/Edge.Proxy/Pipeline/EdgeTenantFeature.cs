namespace Edge.Proxy.Pipeline;

/// <summary>
/// The tenant the route's <c>EdgeTenant</c> step accepted. Set by Tenancy; read by rate limiting (<c>{tenant}</c>),
/// identity headers, tenant binding and the audit record, so it lives here where all of them can import it.
/// </summary>
/// <param name="Source">Where the tenant came from (<c>Header</c>, <c>Host</c>, <c>Path</c>, <c>Claim</c>, <c>Static</c>).</param>
internal sealed record EdgeTenantFeature(string Tenant, string Source);
