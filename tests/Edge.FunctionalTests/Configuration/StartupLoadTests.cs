using System.Net.Sockets;
using Edge.Proxy;
using Edge.Testing;

namespace Edge.FunctionalTests.Configuration;

public sealed class StartupLoadTests
{
    [Fact]
    public async Task Start_InvalidConfig_BuildDoesNoIoAndStartThrowsBeforeListenersOpen()
    {
        var directory = Directory.CreateTempSubdirectory("edge-startup-").FullName;
        try
        {
            var configPath = Path.Combine(directory, "proxy.json");
            await File.WriteAllTextAsync(configPath, """{ "ReverseProxy": { "Routes": { "r": { "Match": { "Path": "/x" } } } } }""");
            var proxyPort = FreePort.Next();

            // Building the host must not read proxy.json: the first load belongs to host start, async.
            await using var app = EdgeApplication.Create(
            [
                $"--urls=http://127.0.0.1:{proxyPort}",
                $"--Edge:ManagementUrls=http://127.0.0.1:{FreePort.Next()}",
                $"--Edge:ProxyConfigPath={configPath}",
                $"--Edge:Audit:SpoolPath={Path.Combine(directory, "spool")}",
            ]);

            var exception = await Assert.ThrowsAsync<EdgeConfigException>(() => app.StartAsync());

            Assert.Contains(exception.Errors, e => e.Location == "ReverseProxy:Routes:r:ClusterId");
            using var probe = new TcpClient();
            await Assert.ThrowsAsync<SocketException>(async () => await probe.ConnectAsync("127.0.0.1", proxyPort));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
