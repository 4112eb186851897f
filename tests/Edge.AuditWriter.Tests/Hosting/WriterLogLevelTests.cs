using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.AuditWriter.Tests.Hosting;

/// <summary>
/// Alone: the writer's UseSerilog sets Serilog's static logger, which every writer host in the process then logs through,
/// so a host another test builds meanwhile would answer for this one.
/// </summary>
[CollectionDefinition(nameof(WriterLogLevelTests), DisableParallelization = true)]
public sealed class WriterLogLevelCollection;

/// <summary>ASP.NET Core's per-request logs are off by default, and Serilog:MinimumLevel:Override turns them on.</summary>
[Collection(nameof(WriterLogLevelTests))]
public sealed class WriterLogLevelTests
{
    private const string RoutingCategory = "Microsoft.AspNetCore.Routing.EndpointMiddleware";

    [Fact]
    public async Task Build_DefaultLevelInformation_AspNetCoreInformationOff()
    {
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Serilog:MinimumLevel:Default=Information"]);

        var factory = writer.Services.GetRequiredService<ILoggerFactory>();
        Assert.True(factory.CreateLogger("Edge.AuditWriter.Log.AuditLog").IsEnabled(LogLevel.Information));
        Assert.False(factory.CreateLogger(RoutingCategory).IsEnabled(LogLevel.Information));
    }

    [Fact]
    public async Task Build_OverrideForMicrosoftAspNetCore_AspNetCoreDebugOn()
    {
        // The writer set its Warning default after reading the configuration, so the operator's override was ignored.
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Serilog:MinimumLevel:Override:Microsoft.AspNetCore=Debug"]);

        Assert.True(writer.Services.GetRequiredService<ILoggerFactory>().CreateLogger(RoutingCategory).IsEnabled(LogLevel.Debug));
    }
}
