using Edge.Configuration.Approvals;
using Edge.Configuration.Authorization;
using Edge.Configuration.RateLimiting;
using Edge.Configuration.Tenancy;
using Edge.Configuration.ThreatProtection;
using Edge.Configuration.Validation;
using Edge.Configuration.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Configuration;

public static class EdgeConfigurationServiceCollectionExtensions
{
    /// <summary>
    /// Registers the whole load-time validation of proxy.json: every capability's <c>Edge</c> sections and their
    /// validators, every step's option validation, the route rules, and YARP's own route and cluster validation.
    /// The edge (on load and reload) and <c>edge config validate</c> both call this, so they cannot drift apart.
    /// </summary>
    public static IServiceCollection AddEdgeConfigurationValidation(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(EdgeConfigValidator)))
        {
            return services;
        }

        // Sections are read and hashed (EdgePolicyHash) in registration order: keep this order.
        services.AddEdgeTenancySection();
        services.AddSingleton<IEdgeStepValidator, TenantStepValidator>();

        services.AddEdgeSection<RateLimitSectionValidator>(RateLimitingSection.Descriptor);
        services.AddSingleton<IEdgeStepValidator, RateLimitStepValidator>();
        services.AddSingleton<IEdgeRouteValidator, RateLimiterPolicyRouteValidator>();

        services.AddEdgeSection<WebhooksSectionValidator>(WebhooksSection.Descriptor);
        services.AddSingleton<IEdgeStepValidator, WebhookStepValidator>();

        services.AddEdgeAuthorizationSections();
        services.AddSingleton<IEdgeStepValidator, AuthenticateStepValidator>();
        services.AddSingleton<IEdgeStepValidator, RequireStepValidator>();
        services.AddSingleton<IEdgeStepValidator, RequireClaimStepValidator>();

        services.AddEdgeThreatProtectionSection();
        services.AddEdgeSection<ValidationSectionValidator>(ValidationSection.Descriptor);
        services.AddSingleton<ValidationPolicyCache>();
        services.AddSingleton<IEdgeExternalContent>(sp => sp.GetRequiredService<ValidationPolicyCache>());
        services.AddSingleton<IEdgeStepValidator, ValidateStepValidator>();
        services.AddEdgeApprovalsSection();
        services.AddSingleton<IEdgeStepValidator, ApprovalStepValidator>();

        services.AddSingleton<IEdgeRouteValidator, RouteMatchValidator>();
        services.TryAddSingleton<EdgeStepValidators>();
        services.AddSingleton<ClusterPolicyNames>();
        services.AddSingleton<EdgeConfigValidator>();
        services.AddSingleton<ITransformFactory, EdgeStepValidationTransformFactory>();
        services.AddRouting();
        services.AddReverseProxy();
        return services;
    }
}
