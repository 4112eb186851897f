using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;

namespace Edge.Configuration;

/// <summary>
/// Checks the TLS certificates Kestrel will load (<c>Kestrel:Certificates:Default</c>, <c>Kestrel:Endpoints:*:Certificate</c>
/// and their <c>Sni</c> entries) before the host starts. Kestrel loads them only when it binds, after the host has
/// started: a missing file, a wrong password, a key that is not the certificate's or a certificate without its key
/// aborted the process (134) with the runtime's stack trace and no setting named, and an expired certificate was served
/// to every client, each of which refused it. Store certificates (<c>Subject</c>/<c>Store</c>) are left to Kestrel.
/// </summary>
public static class KestrelCertificates
{
    /// <summary>Throws an <see cref="InvalidOperationException"/> naming the first unusable certificate setting.</summary>
    /// <param name="configuration">The host's configuration, with its <c>Kestrel</c> section.</param>
    /// <param name="urls">The URLs the host passes Kestrel (<c>--urls</c> and its own), used when <c>Kestrel:Endpoints</c> is not set.</param>
    /// <param name="contentRoot">Where Kestrel resolves a relative certificate path.</param>
    /// <param name="now">The time a certificate must not have expired at.</param>
    public static void RefuseUnusable(IConfiguration configuration, IEnumerable<string> urls, string contentRoot, DateTimeOffset now)
    {
        var kestrel = configuration.GetSection("Kestrel");
        var defaultCertificate = kestrel.GetSection("Certificates:Default");
        var hasDefault = defaultCertificate.GetChildren().Any();
        if (hasDefault)
        {
            Check(configuration, defaultCertificate, contentRoot, now);
        }

        var endpoints = kestrel.GetSection("Endpoints").GetChildren().ToList();
        foreach (var endpoint in endpoints)
        {
            var certificate = endpoint.GetSection("Certificate");
            var sni = endpoint.GetSection("Sni").GetChildren().ToList();
            if (certificate.GetChildren().Any())
            {
                Check(configuration, certificate, contentRoot, now);
            }
            else if (IsHttps(endpoint["Url"]) && !hasDefault && sni.Count == 0)
            {
                throw new InvalidOperationException(
                    $"{certificate.Path} is not set, and endpoint {endpoint.Key} listens on {endpoint["Url"]}: give it a certificate ({certificate.Path}:Path with :Password for a .pfx, or :Path and :KeyPath for PEM files), or Kestrel:Certificates:Default.");
            }

            foreach (var name in sni)
            {
                if (name.GetSection("Certificate") is var sniCertificate && sniCertificate.GetChildren().Any())
                {
                    Check(configuration, sniCertificate, contentRoot, now);
                }
            }
        }

        // Kestrel:Endpoints replaces the URLs; without it an https URL takes Kestrel:Certificates:Default.
        if (endpoints.Count == 0 && !hasDefault && urls.FirstOrDefault(IsHttps) is { } https)
        {
            throw new InvalidOperationException(
                $"Kestrel:Certificates:Default is not set, and the edge listens on {https}: give the certificate (Kestrel:Certificates:Default:Path with :Password for a .pfx, or :Path and :KeyPath for PEM files).");
        }
    }

    private static bool IsHttps(string? url) => url is not null && url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private static void Check(IConfiguration configuration, IConfigurationSection section, string contentRoot, DateTimeOffset now)
    {
        var path = section["Path"];
        var subject = section["Subject"];
        if (string.IsNullOrEmpty(path))
        {
            if (string.IsNullOrEmpty(subject))
            {
                throw new InvalidOperationException($"{section.Path}:Path is not set: give the certificate file (a .pfx with :Password, or a PEM certificate with :KeyPath).");
            }

            return;
        }

        if (!string.IsNullOrEmpty(subject))
        {
            throw new InvalidOperationException($"{section.Path} sets both Path and Subject; Kestrel takes one certificate source, a file or a store.");
        }

        var certificatePath = Existing(section, "Path", path, contentRoot);
        var keyPath = section["KeyPath"] is { Length: > 0 } key ? Existing(section, "KeyPath", key, contentRoot) : null;
        var password = section["Password"];
        RefusePasswordInFile(configuration, section);
        X509Certificate2 certificate;
        try
        {
            certificate = keyPath is null ? Load(certificatePath, password)
                : password is null ? X509Certificate2.CreateFromPemFile(certificatePath, keyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(certificatePath, password, keyPath);
        }
        catch (Exception unreadable) when (unreadable is CryptographicException or ArgumentException)
        {
            // The runtime's messages name no secret ("the password may be incorrect", "the provided key does not match").
            var what = keyPath is null ? $"'{certificatePath}'" : $"'{certificatePath}' with the key in '{keyPath}'";
            var with = password is null ? "" : " and its Password";
            throw new InvalidOperationException($"{section.Path}: cannot load {what}{with}: {unreadable.Message}");
        }

        using (certificate)
        {
            if (!certificate.HasPrivateKey)
            {
                throw new InvalidOperationException(
                    $"{section.Path}: '{certificatePath}' holds the certificate without its private key; give the key file in {section.Path}:KeyPath (PEM), or a .pfx that holds both.");
            }

            if (certificate.NotAfter.ToUniversalTime() < now.UtcDateTime)
            {
                throw new InvalidOperationException(
                    $"{section.Path}: the certificate in '{certificatePath}' ({certificate.Subject}) expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC; every client would refuse it.");
            }
        }
    }

    /// <summary>
    /// A .pfx or key password comes from the environment (deployment.md), never from a settings file, which is copied,
    /// committed and read by whoever reads the config; it was used from appsettings.json without a word. The message
    /// names the file and the variable to use, never the password.
    /// </summary>
    private static void RefusePasswordInFile(IConfiguration configuration, IConfigurationSection section)
    {
        var key = section.Path + ":Password";
        if (configuration is not IConfigurationRoot root || string.IsNullOrEmpty(configuration[key]))
        {
            return;
        }

        // The last provider that has the key is the one whose value is used.
        if (root.Providers.LastOrDefault(p => p.TryGet(key, out _)) is FileConfigurationProvider file)
        {
            throw new InvalidOperationException(
                $"{key} is written in {file.Source.Path}, where a secret may not be; set it in the environment instead ({key.Replace(":", "__", StringComparison.Ordinal)}=…) and remove it from the file.");
        }
    }

    private static string Existing(IConfigurationSection section, string key, string path, string contentRoot)
    {
        var full = Path.GetFullPath(path, contentRoot);
        return File.Exists(full) ? full : throw new InvalidOperationException($"{section.Path}:{key}: the file '{full}' does not exist.");
    }

    /// <summary>A .pfx (with its password) or a lone certificate in PEM or DER, as Kestrel loads a Path without KeyPath.</summary>
    private static X509Certificate2 Load(string path, string? password) =>
        X509Certificate2.GetCertContentType(path) == X509ContentType.Pkcs12
            ? X509CertificateLoader.LoadPkcs12FromFile(path, password)
            : X509CertificateLoader.LoadCertificateFromFile(path);
}
