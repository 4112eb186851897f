using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.AuditWriter.Tests.Hosting;

/// <summary>ASP.NET Core's per-request logs are off by default, and Serilog:MinimumLevel:Override turns them on.</summary>
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

    [Fact]
    public async Task Build_TwoWritersInOneProcess_EachLogsThroughItsOwnSinks()
    {
        // UseSerilog made each writer's logger Serilog's static one: every writer in the process wrote through the one
        // started last, so the first writer's line went to the second's file.
        var firstLog = Path.Combine(Path.GetTempPath(), $"writer-log-{Guid.NewGuid():N}.txt");
        var secondLog = Path.Combine(Path.GetTempPath(), $"writer-log-{Guid.NewGuid():N}.txt");
        try
        {
            await using (var first = await WriterFixture.StartAsync(extraArgs: FileLog(firstLog)))
            {
                await using (var second = await WriterFixture.StartAsync(extraArgs: FileLog(secondLog)))
                {
                    first.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Edge.Test").LogWarning("from the first writer");
                }

                first.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Edge.Test").LogWarning("after the second writer stopped");
            }

            var firstLines = ReadShared(firstLog);
            Assert.Contains("Edge.Test|Warning|from the first writer", firstLines);
            Assert.Contains("Edge.Test|Warning|after the second writer stopped", firstLines);
            Assert.DoesNotContain(ReadShared(secondLog), line => line.StartsWith("Edge.Test|", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(firstLog);
            File.Delete(secondLog);
        }
    }

    [Fact]
    public async Task Build_EveryCategoryVerbose_LogsNoQueryStringOrRefusedRequestBytes()
    {
        // With ASP.NET Core turned up, the request lines held the query string and Kestrel's Debug line quoted a refused
        // header line, key value included: never a secret in the logs, at any level.
        const string secret = "WRITERSECRET0123456789";
        var log = Path.Combine(Path.GetTempPath(), $"writer-log-{Guid.NewGuid():N}.txt");
        try
        {
            await using (var writer = await WriterFixture.StartAsync(extraArgs:
            [
                .. FileLog(log), "--Serilog:MinimumLevel:Default=Verbose", "--Serilog:MinimumLevel:Override:Microsoft.AspNetCore=Verbose",
            ]))
            {
                using var client = writer.Client();
                using var response = await client.GetAsync($"/audit/records?api_key={secret}");
                Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);

                using var tcp = new System.Net.Sockets.TcpClient();
                await tcp.ConnectAsync(System.Net.IPAddress.Loopback, writer.BaseAddress.Port);
                var stream = tcp.GetStream();
                await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"GET /audit/records HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key : {secret}\r\n\r\n"));
                using var reader = new StreamReader(stream, System.Text.Encoding.ASCII);
                Assert.StartsWith("HTTP/1.1 400", await reader.ReadLineAsync() ?? "", StringComparison.Ordinal);
            }

            var lines = ReadShared(log);
            Assert.Contains(lines, line => line.StartsWith("Microsoft.AspNetCore.Hosting.Diagnostics|", StringComparison.Ordinal) && line.Contains("/audit/records", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, line => line.Contains(secret, StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(log);
        }
    }

    private static string[] FileLog(string path) =>
    [
        "--Serilog:WriteTo:9:Name=File",
        $"--Serilog:WriteTo:9:Args:path={path}",
        "--Serilog:WriteTo:9:Args:outputTemplate={SourceContext}|{Level}|{Message:lj}{NewLine}",
    ];

    private static string[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd().Split('\n', StringSplitOptions.TrimEntries);
    }
}
