using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Edge.AuditWriter.Tests.Authorization;

public sealed class CallerAuthenticatorTests
{
    private const string SigningKey = "writer-test-hs256-signing-key-0123456789abcdef";

    [Fact]
    public async Task Records_SigningKeysCannotBeFetched_FetchFailureLoggedWithItsAddressNeverTheToken()
    {
        // The edge logs every failed JWKS fetch (event 1200); the writer answered 503 authentication_unavailable and
        // logged nothing, so an operator saw auditors refused with no cause in the writer's log.
        var closed = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        var log = Path.Combine(Path.GetTempPath(), $"writer-log-{Guid.NewGuid():N}.txt");
        const string signature = "U0VDUkVUU0lHTkFUVVJF";
        static string Part(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var token = Part("""{"alg":"RS256","typ":"JWT","kid":"k1"}""") + "." + Part("""{"iss":"https://id.example","aud":"edge","sub":"auditor","exp":4102444800}""") + "." + signature;
        HttpStatusCode status;
        try
        {
            await using (var writer = await WriterFixture.StartAsync(
                proxyJson: $$"""
                    {
                      "ReverseProxy": { "Routes": {}, "Clusters": {} },
                      "Edge": {
                        "Authentication": {
                          "auditors": { "Type": "Jwt", "Issuer": "https://id.example", "Audience": "edge", "JwksUrl": "http://127.0.0.1:{{port}}/jwks", "RequireHttpsMetadata": false }
                        },
                        "Roles": { "Auditor": [ "audit.read.all" ] }
                      }
                    }
                    """,
                extraArgs: ["--Serilog:WriteTo:9:Name=File", $"--Serilog:WriteTo:9:Args:path={log}", "--Serilog:WriteTo:9:Args:outputTemplate={EventId}|{Level}|{Message:lj}{NewLine}"]))
            {
                using var client = writer.Client();
                using var request = new HttpRequestMessage(HttpMethod.Get, "/audit/records");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                using var response = await client.SendAsync(request);
                status = response.StatusCode;
            }

            string[] lines;
            using (var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                lines = new StreamReader(stream).ReadToEnd().Split('\n', StringSplitOptions.TrimEntries);
            }

            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            var fetch = lines.FirstOrDefault(line => line.Contains("could not be fetched", StringComparison.Ordinal));
            Assert.NotNull(fetch);
            Assert.StartsWith("{ Id: 2172, Name: \"SigningKeyFetchFailed\" }|Warning|", fetch, StringComparison.Ordinal);
            Assert.Contains($"http://127.0.0.1:{port}/jwks", fetch, StringComparison.Ordinal);
            Assert.DoesNotContain(lines, line => line.Contains(signature, StringComparison.Ordinal) || line.Contains(token[..20], StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(log);
        }
    }

    [Fact]
    public async Task Records_KeyRemovedFromProxyJsonWhileRunning_RefusedWithoutRestart()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        using var before = await auditor.GetAsync("/audit/records");
        var path = Path.Combine(writer.Directory, "proxy.json");
        var config = await File.ReadAllTextAsync(path);
        var line = config.Split('\n').Single(l => l.Contains("\"compliance\"", StringComparison.Ordinal));

        // The edge applies this edit within a second; the writer reading the same file must not keep the revoked key.
        await File.WriteAllTextAsync(path + ".new", config.Replace(line + "\n", "", StringComparison.Ordinal));
        File.Move(path + ".new", path, overwrite: true);
        using var after = await auditor.GetAsync("/audit/records");
        using var acmeClient = writer.Client(WriterFixture.AcmeAuditorKey);
        using var acme = await acmeClient.GetAsync("/audit/records");

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Equal(HttpStatusCode.OK, acme.StatusCode);
    }

    [Fact]
    public async Task Records_KeyRemovedByKubernetesConfigMapSwap_RefusedWithoutRestart()
    {
        string config;
        await using (var template = await WriterFixture.StartAsync())
        {
            config = await File.ReadAllTextAsync(Path.Combine(template.Directory, "proxy.json"));
        }

        // A ConfigMap volume as the kubelet lays it out: proxy.json -> ..data/proxy.json, ..data -> a timestamped folder.
        var mount = Directory.CreateTempSubdirectory("writer-configmap-").FullName;
        Directory.CreateDirectory(Path.Combine(mount, "..2026_12_03_00_00_00.1"));
        await File.WriteAllTextAsync(Path.Combine(mount, "..2026_12_03_00_00_00.1", "proxy.json"), config);
        Directory.CreateSymbolicLink(Path.Combine(mount, "..data"), "..2026_12_03_00_00_00.1");
        File.CreateSymbolicLink(Path.Combine(mount, "proxy.json"), "..data/proxy.json");
        await using var writer = await WriterFixture.StartAsync(extraArgs: [$"--Writer:ProxyConfigPath={Path.Combine(mount, "proxy.json")}"]);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        using var before = await auditor.GetAsync("/audit/records");

        // The update removes the compliance key: a new folder, and a new ..data link renamed over the old one.
        var line = config.Split('\n').Single(l => l.Contains("\"compliance\"", StringComparison.Ordinal));
        Directory.CreateDirectory(Path.Combine(mount, "..2026_12_03_00_01_00.2"));
        await File.WriteAllTextAsync(Path.Combine(mount, "..2026_12_03_00_01_00.2", "proxy.json"), config.Replace(line + "\n", "", StringComparison.Ordinal));
        Directory.CreateSymbolicLink(Path.Combine(mount, "..data_tmp"), "..2026_12_03_00_01_00.2");
        using (var rename = System.Diagnostics.Process.Start("mv", ["-T", Path.Combine(mount, "..data_tmp"), Path.Combine(mount, "..data")]))
        {
            await rename.WaitForExitAsync();
            Assert.Equal(0, rename.ExitCode);
        }

        using var after = await auditor.GetAsync("/audit/records");

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task Records_ProxyJsonBrokenWhileRunning_LastGoodCredentialsKeepWorking()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        var path = Path.Combine(writer.Directory, "proxy.json");

        await File.WriteAllTextAsync(path + ".new", "{ \"ReverseProxy\": ");
        File.Move(path + ".new", path, overwrite: true);
        using var response = await auditor.GetAsync("/audit/records");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Records_Hs256JwtFromProxyJsonEntry_AppliesTenantScopeAndRejectsBadSignature()
    {
        var variable = "EDGE_TEST_JWT_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, SigningKey);
        var proxyJson = $$"""
            { "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/x" } } }, "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } },
              "Edge": {
                "Authentication": { "corp-hs": { "Type": "Jwt", "Issuer": "https://id.test", "Audience": "edge",
                  "SigningKey": "env:{{variable}}", "Algorithms": [ "HS256" ], "RoleClaim": "roles", "TenantClaim": "tenant_id" } },
                "Roles": { "TenantAuditor": [ "audit.read" ] } } }
            """;
        await using var writer = await WriterFixture.StartAsync(proxyJson: proxyJson, authentication: "corp-hs");
        using var ingest = await writer.IngestAsync([WriterFixture.Leaf("a1", "acme"), WriterFixture.Leaf("g1", "globex")], 2);
        ingest.EnsureSuccessStatusCode();
        using var client = writer.Client();

        var good = await GetAsync(client, Token(SigningKey, "acme"));
        var forged = await GetAsync(client, Token("another-key-that-is-long-enough-0123456789", "acme"));

        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        var records = JsonDocument.Parse(await good.Content.ReadAsStringAsync()).RootElement.GetProperty("records");
        Assert.Equal("a1", Assert.Single(records.EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
    }

    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/audit/records");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.SendAsync(request);
    }

    private static string Token(string key, string tenant) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "https://id.test",
        Audience = "edge",
        Expires = DateTime.UtcNow.AddMinutes(5),
        Subject = new ClaimsIdentity([new Claim("sub", "auditor-1"), new Claim("tenant_id", tenant), new Claim("roles", "TenantAuditor")]),
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
    });
}
