using Microsoft.Extensions.DependencyInjection;

namespace Edge.Proxy.Tests.Configuration;

public sealed class EdgeHostOptionsExtensionsTests
{
    /// <summary>
    /// An empty <c>Edge:InstanceId</c> (a deployment template's <c>Edge__InstanceId=${POD_NAME}</c> rendered without the
    /// variable) wrote audit records with <c>"instance":""</c> and <c>"source":"edge://"</c>, so no record said which edge
    /// decided it, while the metrics' service instance already fell back to the machine name.
    /// </summary>
    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public async Task AddEdgeHostOptions_EmptyInstanceId_IsTheMachineName(string instanceId)
    {
        var directory = Directory.CreateTempSubdirectory("edge-instance-").FullName;
        try
        {
            await using var app = EdgeApplication.Create(
            [
                $"--Edge:ProxyConfigPath={Path.Combine(directory, "proxy.json")}",
                "--Edge:Audit:LocalFile=",
                $"--Edge:InstanceId={instanceId}",
            ]);

            Assert.Equal(Environment.MachineName, app.Services.GetRequiredService<EdgeHostOptions>().InstanceId);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task AddEdgeHostOptions_InstanceIdSet_IsKept()
    {
        var directory = Directory.CreateTempSubdirectory("edge-instance-").FullName;
        try
        {
            await using var app = EdgeApplication.Create(
            [
                $"--Edge:ProxyConfigPath={Path.Combine(directory, "proxy.json")}",
                "--Edge:Audit:LocalFile=",
                "--Edge:InstanceId=edge-eu-1a",
            ]);

            Assert.Equal("edge-eu-1a", app.Services.GetRequiredService<EdgeHostOptions>().InstanceId);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
