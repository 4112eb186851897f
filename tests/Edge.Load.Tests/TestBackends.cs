using System.Net;
using System.Net.Sockets;
using Edge.Load.BenchHost;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WireMock.Server;
using WireMock.Settings;

namespace Edge.Load.Tests;

internal static class TestBackends
{
    /// <summary>A WireMock server on a free loopback port with an unbounded request log.</summary>
    public static WireMockServer StartWireMock() =>
        WireMockServer.Start(new WireMockServerSettings
        {
            Urls = [$"http://127.0.0.1:{FreePort()}"],
            MaxRequestLogCount = 100_000,
        });

    /// <summary>The real Kestrel bench backend (the one bench.sh puts behind every path) on 127.0.0.1:0.</summary>
    public static async Task<(WebApplication App, Uri Url)> StartBenchBackendAsync()
    {
        var app = BenchBackend.Build(["--urls", "http://127.0.0.1:0"]);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return (app, new Uri(address));
    }

    /// <summary>A real Kestrel server on 127.0.0.1:0 that answers every request with <paramref name="handler"/>.</summary>
    public static async Task<(WebApplication App, Uri Url)> StartKestrelAsync(RequestDelegate handler)
    {
        var builder = WebApplication.CreateSlimBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Run(handler);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return (app, new Uri(address));
    }

    /// <summary>A loopback URL nothing listens on: a port the OS just handed out and that was closed again.</summary>
    public static string DeadTarget() => "http://127.0.0.1:" + FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string TempFolder(string name)
    {
        var path = Path.Combine(Path.GetTempPath(), "edge-load-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Writes a secret to a file so scenarios can read it via <c>file:</c> without touching process-wide env vars.</summary>
    public static string SecretFile(string value)
    {
        var path = Path.Combine(TempFolder("secret"), "secret");
        File.WriteAllText(path, value);
        return "file:" + path;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
