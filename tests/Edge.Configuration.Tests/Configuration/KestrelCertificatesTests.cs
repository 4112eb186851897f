using Edge.Testing;
using Microsoft.Extensions.Configuration;

namespace Edge.Configuration.Tests.Configuration;

/// <summary>The certificate checks on settings the functional tests do not start: defaults, SNI, stores, relative paths.</summary>
public sealed class KestrelCertificatesTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-kestrel-certs-").FullName;
    private readonly TestCertificate _certificate = TestCertificate.Create();

    [Fact]
    public void RefuseUnusable_RelativePemPathsUnderTheContentRoot_Accepted()
    {
        var settings = Settings(
            ("Kestrel:Endpoints:Https:Url", "https://127.0.0.1:8443"),
            ("Kestrel:Endpoints:Https:Certificate:Path", Path.GetFileName(_certificate.WriteCertificatePem(_directory))),
            ("Kestrel:Endpoints:Https:Certificate:KeyPath", Path.GetFileName(_certificate.WriteKeyPem(_directory))));

        KestrelCertificates.RefuseUnusable(settings, [], _directory, DateTimeOffset.UtcNow);
    }

    [Fact]
    public void RefuseUnusable_HttpsUrlWithDefaultCertificate_Accepted()
    {
        var settings = Settings(
            ("Kestrel:Certificates:Default:Path", _certificate.WritePfx(_directory, "pw")),
            ("Kestrel:Certificates:Default:Password", "pw"));

        KestrelCertificates.RefuseUnusable(settings, ["https://127.0.0.1:8443"], _directory, DateTimeOffset.UtcNow);
    }

    /// <summary>
    /// deployment.md says the .pfx password comes from the environment, never the file; a Password written into
    /// appsettings.json (copied, committed, readable by whoever reads the config) was used without a word.
    /// </summary>
    [Fact]
    public void RefuseUnusable_PfxPasswordInSettingsFile_RefusedWithoutThePassword()
    {
        var pfx = _certificate.WritePfx(_directory, "hunter2-pfx");
        var file = Path.Combine(_directory, "appsettings.json");
        File.WriteAllText(file, $$"""{ "Kestrel": { "Certificates": { "Default": { "Path": "{{pfx}}", "Password": "hunter2-pfx" } } } }""");
        var settings = new ConfigurationBuilder().AddJsonFile(file).Build();

        var refused = Assert.Throws<InvalidOperationException>(() => KestrelCertificates.RefuseUnusable(settings, ["https://127.0.0.1:8443"], _directory, DateTimeOffset.UtcNow));

        Assert.StartsWith("Kestrel:Certificates:Default:Password is written in ", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Kestrel__Certificates__Default__Password", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefuseUnusable_PfxPathInSettingsFilePasswordFromEnvironment_Accepted()
    {
        var pfx = _certificate.WritePfx(_directory, "pw-from-env");
        var file = Path.Combine(_directory, "appsettings.json");
        File.WriteAllText(file, $$"""{ "Kestrel": { "Certificates": { "Default": { "Path": "{{pfx}}" } } } }""");
        var prefix = "EDGE_TEST_" + Guid.NewGuid().ToString("N") + "_";
        Environment.SetEnvironmentVariable(prefix + "Kestrel__Certificates__Default__Password", "pw-from-env");
        try
        {
            var settings = new ConfigurationBuilder().AddJsonFile(file).AddEnvironmentVariables(prefix).Build();

            KestrelCertificates.RefuseUnusable(settings, ["https://127.0.0.1:8443"], _directory, DateTimeOffset.UtcNow);
        }
        finally
        {
            Environment.SetEnvironmentVariable(prefix + "Kestrel__Certificates__Default__Password", null);
        }
    }

    [Fact]
    public void RefuseUnusable_PlainHttpOnly_Accepted()
    {
        KestrelCertificates.RefuseUnusable(Settings(("Kestrel:Endpoints:Http:Url", "http://127.0.0.1:8080")), ["http://127.0.0.1:8080"], _directory, DateTimeOffset.UtcNow);
    }

    [Fact]
    public void RefuseUnusable_StoreCertificate_LeftToKestrel()
    {
        var settings = Settings(
            ("Kestrel:Endpoints:Https:Url", "https://127.0.0.1:8443"),
            ("Kestrel:Endpoints:Https:Certificate:Subject", "edge.example"),
            ("Kestrel:Endpoints:Https:Certificate:Store", "My"));

        KestrelCertificates.RefuseUnusable(settings, [], _directory, DateTimeOffset.UtcNow);
    }

    [Fact]
    public void RefuseUnusable_PathAndSubject_RefusedNamingTheSection()
    {
        var settings = Settings(
            ("Kestrel:Endpoints:Https:Url", "https://127.0.0.1:8443"),
            ("Kestrel:Endpoints:Https:Certificate:Path", _certificate.WritePfx(_directory, "pw")),
            ("Kestrel:Endpoints:Https:Certificate:Subject", "edge.example"));

        var refused = Assert.Throws<InvalidOperationException>(() => KestrelCertificates.RefuseUnusable(settings, [], _directory, DateTimeOffset.UtcNow));

        Assert.StartsWith("Kestrel:Endpoints:Https:Certificate sets both Path and Subject", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefuseUnusable_SniCertificateMissing_RefusedNamingTheSniSetting()
    {
        var settings = Settings(
            ("Kestrel:Endpoints:Https:Url", "https://127.0.0.1:8443"),
            ("Kestrel:Endpoints:Https:Sni:shop.example:Certificate:Path", Path.Combine(_directory, "absent.pfx")));

        var refused = Assert.Throws<InvalidOperationException>(() => KestrelCertificates.RefuseUnusable(settings, [], _directory, DateTimeOffset.UtcNow));

        Assert.StartsWith("Kestrel:Endpoints:Https:Sni:shop.example:Certificate:Path: the file '", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefuseUnusable_PasswordWithoutPath_RefusedNamingPath()
    {
        var settings = Settings(("Kestrel:Endpoints:Https:Url", "https://127.0.0.1:8443"), ("Kestrel:Endpoints:Https:Certificate:Password", "pw"));

        var refused = Assert.Throws<InvalidOperationException>(() => KestrelCertificates.RefuseUnusable(settings, [], _directory, DateTimeOffset.UtcNow));

        Assert.StartsWith("Kestrel:Endpoints:Https:Certificate:Path is not set", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("pw", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefuseUnusable_CertificateValidNowExpiredAtTheGivenTime_Refused()
    {
        var settings = Settings(
            ("Kestrel:Endpoints:Https:Url", "https://127.0.0.1:8443"),
            ("Kestrel:Endpoints:Https:Certificate:Path", _certificate.WritePfx(_directory, "pw")),
            ("Kestrel:Endpoints:Https:Certificate:Password", "pw"));

        var refused = Assert.Throws<InvalidOperationException>(
            () => KestrelCertificates.RefuseUnusable(settings, [], _directory, DateTimeOffset.UtcNow.AddDays(31)));

        Assert.Contains("expired on", refused.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _certificate.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();
}
