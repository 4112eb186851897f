using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Edge.Load.Cli;
using Edge.Load.Http;
using Edge.Load.Running;
using Edge.Load.Simulations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.Load.Tests.Http;

/// <summary>--http2 against real Kestrel listeners: h2c with prior knowledge on http://, ALPN on https://.</summary>
public sealed class Http2Tests
{
    [Fact]
    public async Task RunCommand_Http2AgainstAnH2cOnlyKestrel_SendsEveryRequestOnHttp2AndReportsIt()
    {
        var seen = new ConcurrentBag<string>();
        var (app, url) = await StartAsync(HttpProtocols.Http2, tls: false, seen);
        await using var _ = app;
        var folder = TestBackends.TempFolder("h2c");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(
            ["run", "--scenario", "plain-get", "--target", url.ToString(), "--param", "path=/x", "--http2",
             "--simulation", "inject:rate=20,during=1s", "--report-folder", folder, "--quiet"], stdout, stderr);

        Assert.True(exit == ExitCodes.Ok, stderr.ToString());
        Assert.Equal(20, seen.Count);
        Assert.All(seen, p => Assert.Equal("HTTP/2", p));
        var md = File.ReadAllLines(Path.Combine(folder, "report.md"));
        Assert.Contains("- protocol: HTTP/2 requested (h2c, prior knowledge); responses: HTTP/2: 20", md);
        Assert.Contains("protocol: HTTP/2", stdout.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunCommand_WithoutHttp2_ReportsHttp11()
    {
        var seen = new ConcurrentBag<string>();
        var (app, url) = await StartAsync(HttpProtocols.Http1AndHttp2, tls: false, seen);
        await using var _ = app;
        var folder = TestBackends.TempFolder("h1");

        var exit = await CliApp.RunAsync(
            ["run", "--scenario", "plain-get", "--target", url.ToString(), "--param", "path=/x",
             "--simulation", "inject:rate=10,during=1s", "--report-folder", folder, "--quiet"], new StringWriter(), new StringWriter());

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.All(seen, p => Assert.Equal("HTTP/1.1", p));
        Assert.Contains("- protocol: HTTP/1.1 requested; responses: HTTP/1.1: 10", File.ReadAllLines(Path.Combine(folder, "report.md")));
    }

    [Fact]
    public async Task RunCommand_Http2AgainstAnHttp11OnlyServer_FailsNamingTheProtocolError()
    {
        // h2c with prior knowledge has no fallback: a cleartext server that speaks only HTTP/1.1 cannot answer it, and
        // the run must say so rather than pass or blame the target's availability.
        var seen = new ConcurrentBag<string>();
        var (app, url) = await StartAsync(HttpProtocols.Http1, tls: false, seen);
        await using var _ = app;
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(
            ["run", "--scenario", "plain-get", "--target", url.ToString(), "--param", "path=/x", "--http2",
             "--simulation", "inject:rate=5,during=1s", "--report-folder", TestBackends.TempFolder("h2c-to-h1"), "--quiet"], new StringWriter(), stderr);

        Assert.Equal(ExitCodes.ThresholdFailed, exit);
        Assert.Contains("plain-get: no ok responses (5 failed, most often http_httpprotocolerror: 5)", stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HttpProtocols.Http1AndHttp2, "HTTP/2: 10", "")]
    [InlineData(HttpProtocols.Http1, "HTTP/1.1: 10", "; 10 on another version than asked")]
    public async Task RunAsync_Http2OverTls_NegotiatesWithAlpnAndCountsResponsesOnAnotherVersion(HttpProtocols serverProtocols, string responses, string other)
    {
        var seen = new ConcurrentBag<string>();
        var (app, url) = await StartAsync(serverProtocols, tls: true, seen);
        await using var _ = app;
        using var client = new HttpClient(
            new Http2Handler(LoadHttpClient.CreateHandler(64, static (_, _, _, _) => true)), disposeHandler: true) { Timeout = TimeSpan.FromSeconds(10) };
        var scenario = Edge.Load.EdgeScenarios.EdgeScenarioCatalog.Find("plain-get")!.Create()
            .WithLoadSimulations(Simulation.Inject(10, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));

        var report = await LoadTest.RunAsync([scenario], new LoadTestOptions
        {
            Target = url,
            HttpClient = client,
            Http2 = true,
            Parameters = new Dictionary<string, string> { ["path"] = "/x" },
        });

        var result = report.Scenarios[0];
        Assert.Equal(10, result.Global.Ok.Count);
        Assert.Equal("HTTP/2 requested (ALPN, HTTP/1.1 if the server does not offer h2); responses: " + responses + other, result.ProtocolText);
        Assert.Equal(other.Length == 0 ? 0 : 10, result.OtherProtocolResponses);
    }

    private static async Task<(WebApplication App, Uri Url)> StartAsync(HttpProtocols protocols, bool tls, ConcurrentBag<string> seen)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = protocols;
            if (tls)
            {
                listen.UseHttps(SelfSigned());
            }
        }));
        var app = builder.Build();
        app.Run(context =>
        {
            seen.Add(context.Request.Protocol);
            return context.Response.WriteAsync("ok");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return (app, new Uri(address.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal)));
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }
}
