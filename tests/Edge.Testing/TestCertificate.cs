using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Edge.Testing;

/// <summary>
/// A self-signed server certificate for <c>localhost</c> and <c>127.0.0.1</c>, made in the test and written to files the
/// way an operator hands one to Kestrel (<c>Kestrel:Endpoints:*:Certificate</c>): a password-protected .pfx, or a PEM
/// certificate with its PEM key.
/// </summary>
public sealed class TestCertificate : IDisposable
{
    private TestCertificate(X509Certificate2 certificate, RSA key)
    {
        Certificate = certificate;
        Key = key;
    }

    public X509Certificate2 Certificate { get; }

    public RSA Key { get; }

    /// <summary>Valid from a day ago for <paramref name="validFor"/> (30 days unless given; negative: already expired).</summary>
    public static TestCertificate Create(TimeSpan? validFor = null)
    {
        var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var notBefore = DateTimeOffset.UtcNow.AddDays(-1);
        var notAfter = DateTimeOffset.UtcNow + (validFor ?? TimeSpan.FromDays(30));
        if (notAfter <= notBefore)
        {
            notBefore = notAfter.AddDays(-30);
        }

        return new TestCertificate(request.CreateSelfSigned(notBefore, notAfter), key);
    }

    /// <summary>Writes a .pfx holding the certificate and its key, protected by <paramref name="password"/>.</summary>
    public string WritePfx(string directory, string password)
    {
        var path = Path.Combine(directory, $"edge-{Guid.NewGuid():N}.pfx");
        File.WriteAllBytes(path, Certificate.Export(X509ContentType.Pkcs12, password));
        return path;
    }

    /// <summary>Writes the certificate alone as PEM (no key).</summary>
    public string WriteCertificatePem(string directory)
    {
        var path = Path.Combine(directory, $"edge-{Guid.NewGuid():N}.crt");
        File.WriteAllText(path, Certificate.ExportCertificatePem());
        return path;
    }

    /// <summary>Writes the private key as unencrypted PKCS#8 PEM.</summary>
    public string WriteKeyPem(string directory)
    {
        var path = Path.Combine(directory, $"edge-{Guid.NewGuid():N}.key");
        File.WriteAllText(path, Key.ExportPkcs8PrivateKeyPem());
        return path;
    }

    public void Dispose()
    {
        Certificate.Dispose();
        Key.Dispose();
    }
}
