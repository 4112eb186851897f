using Edge.Configuration;

namespace Edge.Configuration.Tenancy;

/// <summary>The forwarded tenant header must be one the edge owns, or a client could set it.</summary>
internal sealed class TenancySectionValidator(EdgeHostOptions host) : IEdgeSectionValidator
{
    public void Validate(EdgeSection edge, ConfigErrorList errors)
    {
        var header = edge.Tenancy.ForwardHeader;
        if (string.IsNullOrWhiteSpace(header))
        {
            errors.Add("Edge:Tenancy:ForwardHeader", "must not be empty");
        }
        else if (!header.StartsWith(host.IdentityHeaderPrefix, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add("Edge:Tenancy:ForwardHeader", $"'{header}' must start with the identity prefix '{host.IdentityHeaderPrefix}' so client-sent copies are removed");
        }
    }
}
