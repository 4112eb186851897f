using Edge.Proxy.Pipeline;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class EdgeStepRegistryTests
{
    /// <summary>
    /// A step the validators accept but no factory builds would pass <c>edge config validate</c> and then fail the
    /// edge's reload; a factory without a validator would be unreachable. The two registrations must name the same steps.
    /// </summary>
    [Fact]
    public async Task EdgeHost_StepValidatorsAndFactories_NameTheSameSteps()
    {
        var directory = Directory.CreateTempSubdirectory("edge-steps-").FullName;
        try
        {
            await using var app = EdgeApplication.Create(
            [
                $"--Edge:ProxyConfigPath={Path.Combine(directory, "proxy.json")}",
                $"--Edge:Audit:SpoolPath={Path.Combine(directory, "spool")}",
            ]);

            var validators = app.Services.GetRequiredService<EdgeStepValidators>().Names.ToList();
            var factories = app.Services.GetServices<IEdgeStepFactory>().Select(f => f.Name).Order(StringComparer.Ordinal).ToList();

            Assert.Equal(["EdgeApproval", "EdgeAuthenticate", "EdgeRateLimit", "EdgeRequire", "EdgeRequireClaim", "EdgeTenant", "EdgeValidate", "EdgeWebhook"], validators);
            Assert.Equal(validators, factories);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
