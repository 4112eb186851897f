using Edge.Testing;

namespace Edge.FunctionalTests.Configuration;

/// <summary>
/// The built edge and writer started with an HTTPS endpoint as docs/configuration.md shows it (<c>Kestrel:Endpoints</c>
/// with a certificate, the management listener an endpoint of its own), and the certificate wrong.
/// </summary>
public sealed class TlsCertificateStartupTests
{
    private const string Password = "test-pfx-password";

    [Theory]
    [InlineData("Edge.Proxy", "missing-file", "error: Kestrel:Endpoints:Https:Certificate:Path: the file '")]
    [InlineData("Edge.Proxy", "wrong-password", "error: Kestrel:Endpoints:Https:Certificate: cannot load '")]
    [InlineData("Edge.Proxy", "expired", "error: Kestrel:Endpoints:Https:Certificate: the certificate in '")]
    [InlineData("Edge.Proxy", "key-mismatch", "error: Kestrel:Endpoints:Https:Certificate: cannot load '")]
    [InlineData("Edge.Proxy", "missing-key-file", "error: Kestrel:Endpoints:Https:Certificate:KeyPath: the file '")]
    [InlineData("Edge.Proxy", "no-private-key", "error: Kestrel:Endpoints:Https:Certificate: '")]
    [InlineData("Edge.Proxy", "no-certificate", "error: Kestrel:Endpoints:Https:Certificate is not set, and endpoint Https listens on https://")]
    [InlineData("Edge.Proxy", "urls-without-default", "error: Kestrel:Certificates:Default is not set, and the edge listens on https://")]
    [InlineData("Edge.AuditWriter", "missing-file", "error: Kestrel:Endpoints:Https:Certificate:Path: the file '")]
    [InlineData("Edge.AuditWriter", "expired", "error: Kestrel:Endpoints:Https:Certificate: the certificate in '")]
    public async Task Main_UnusableCertificate_ExitsOneNamingTheSettingWithoutStackTrace(string project, string mistake, string expected)
    {
        var directory = Directory.CreateTempSubdirectory("edge-tls-startup-").FullName;
        using var certificate = TestCertificate.Create(mistake == "expired" ? TimeSpan.FromDays(-1) : null);
        using var other = TestCertificate.Create();
        try
        {
            var https = $"https://127.0.0.1:{FreePort.Next()}";
            var management = $"http://127.0.0.1:{FreePort.Next()}";
            const string Endpoint = "--Kestrel:Endpoints:Https:";
            string[] tls = mistake switch
            {
                "missing-file" => [Endpoint + "Url=" + https, Endpoint + "Certificate:Path=" + Path.Combine(directory, "absent.pfx"), Endpoint + "Certificate:Password=" + Password],
                "wrong-password" => [Endpoint + "Url=" + https, Endpoint + "Certificate:Path=" + certificate.WritePfx(directory, Password), Endpoint + "Certificate:Password=not-" + Password],
                "expired" => [Endpoint + "Url=" + https, Endpoint + "Certificate:Path=" + certificate.WriteCertificatePem(directory), Endpoint + "Certificate:KeyPath=" + certificate.WriteKeyPem(directory)],
                "key-mismatch" => [Endpoint + "Url=" + https, Endpoint + "Certificate:Path=" + certificate.WriteCertificatePem(directory), Endpoint + "Certificate:KeyPath=" + other.WriteKeyPem(directory)],
                "missing-key-file" => [Endpoint + "Url=" + https, Endpoint + "Certificate:Path=" + certificate.WriteCertificatePem(directory), Endpoint + "Certificate:KeyPath=" + Path.Combine(directory, "absent.key")],
                "no-private-key" => [Endpoint + "Url=" + https, Endpoint + "Certificate:Path=" + certificate.WriteCertificatePem(directory)],
                "no-certificate" => [Endpoint + "Url=" + https],
                "urls-without-default" => [],
                _ => throw new ArgumentOutOfRangeException(nameof(mistake)),
            };
            // Kestrel:Endpoints replaces --urls; without it, the https --urls entry needs Kestrel:Certificates:Default.
            string[] listeners = mistake == "urls-without-default"
                ? ["--urls=" + https]
                : ["--Kestrel:Endpoints:Management:Url=" + management, "--Edge:ManagementUrls=" + management];

            var output = await HostSettingsStartupTests.RunRefusedAsync(project, directory, project == "Edge.Proxy" ? [.. listeners, .. tls] : tls);

            Assert.Contains(expected, output, StringComparison.Ordinal);
            Assert.DoesNotContain(Password, output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
