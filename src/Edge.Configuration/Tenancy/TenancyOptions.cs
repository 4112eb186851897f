namespace Edge.Configuration.Tenancy;

/// <summary>Edge-wide tenancy settings (<c>Edge:Tenancy</c> in proxy.json).</summary>
public sealed record TenancyOptions
{
    /// <summary>Header the edge sets on the forwarded request with the extracted tenant.</summary>
    public string ForwardHeader { get; init; } = "X-Edge-Tenant";
}
