using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Edge.Audit.Records;
using Edge.Audit.Shipping;
using Edge.AuditWriter.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.AuditWriter.Tests;

/// <summary>A real writer on a loopback Kestrel port with a temp store, key and proxy.json (API-key auditors).</summary>
public sealed class WriterFixture : IAsyncDisposable
{
    public const string AcmeAuditorKey = "acme-auditor-key-0123456789";
    public const string GlobalAuditorKey = "global-auditor-key-0123456789";
    public const string ViewerKey = "viewer-key-0123456789";
    public const string GlobalEraserKey = "global-eraser-key-0123456789";
    public const string AcmeEraserKey = "acme-eraser-key-0123456789";
    public const string WitnessKey = "witness-key-0123456789";

    private WebApplication? _app;
    private string? _proxyJson;
    private string _authentication = "auditors";
    private IReadOnlyList<string> _extraArgs = [];
    private TimeProvider? _time;

    private WriterFixture(string directory) => Directory = directory;

    public string Directory { get; }

    public string StorePath => Path.Combine(Directory, "audit.db");

    public string KeyPath => Path.Combine(Directory, "keys", "writer.key");

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The running writer's services (e.g. its AuditLog, to read what the store holds).</summary>
    public IServiceProvider Services => _app!.Services;

    /// <summary>The writer's clock when the test controls it; <see cref="WaitForCheckpointAsync"/> advances it.</summary>
    public Microsoft.Extensions.Time.Testing.FakeTimeProvider? Clock => _time as Microsoft.Extensions.Time.Testing.FakeTimeProvider;

    public static async Task<WriterFixture> StartAsync(
        string? directory = null, string? proxyJson = null, string authentication = "auditors", IReadOnlyList<string>? extraArgs = null,
        TimeProvider? time = null)
    {
        var fixture = new WriterFixture(directory ?? System.IO.Directory.CreateTempSubdirectory("edge-writer-").FullName)
        {
            _proxyJson = proxyJson,
            _authentication = authentication,
            _extraArgs = extraArgs ?? [],
            _time = time,
        };
        await fixture.StartAppAsync();
        return fixture;
    }

    public async Task StartAppAsync()
    {
        var proxyConfig = Path.Combine(Directory, "proxy.json");
        await File.WriteAllTextAsync(proxyConfig, _proxyJson ?? $$"""
            {
              "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/x" } } }, "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } },
              "Edge": {
                "Authentication": {
                  "auditors": { "Type": "ApiKey", "Header": "X-Api-Key", "Keys": [
                    { "Sha256": "{{Sha(AcmeAuditorKey)}}", "Principal": "acme-auditor", "Tenant": "acme", "Roles": [ "TenantAuditor" ] },
                    { "Sha256": "{{Sha(GlobalAuditorKey)}}", "Principal": "compliance", "Tenant": "ops", "Roles": [ "Auditor" ] },
                    { "Sha256": "{{Sha(ViewerKey)}}", "Principal": "viewer", "Tenant": "acme", "Roles": [ "Viewer" ] },
                    { "Sha256": "{{Sha(GlobalEraserKey)}}", "Principal": "dpo", "Tenant": "ops", "Roles": [ "Auditor", "Eraser" ] },
                    { "Sha256": "{{Sha(AcmeEraserKey)}}", "Principal": "acme-dpo", "Tenant": "acme", "Roles": [ "TenantAuditor", "Eraser" ] },
                    { "Sha256": "{{Sha(WitnessKey)}}", "Principal": "witness", "Tenant": "ops", "Roles": [ "Witness" ] }
                  ] }
                },
                "Roles": { "Auditor": [ "audit.read.all" ], "TenantAuditor": [ "audit.read" ], "Viewer": [ "orders.read" ], "Eraser": [ "audit.erase" ], "Witness": [ "audit.tiles" ] }
              }
            }
            """);
        _app = WriterApp.Build(
        [
            "--urls", $"http://127.0.0.1:{(BaseAddress is null ? 0 : BaseAddress.Port)}",
            $"--Writer:StorePath={StorePath}",
            $"--Writer:KeyPath={KeyPath}",
            $"--Writer:SubjectKeyPath={Path.Combine(Directory, "keys", "subject.key")}",
            "--Writer:Origin=test.edge/audit",
            $"--Writer:ProxyConfigPath={proxyConfig}",
            $"--Writer:Authentication={_authentication}",
            "--Writer:CheckpointInterval=00:00:00.200",
            "--Serilog:MinimumLevel:Default=Warning",
            .. _extraArgs,
        ], _time is null ? null : services => services.AddSingleton(_time));
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
    }

    public async Task StopAppAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
            SqliteConnection.ClearAllPools();
        }
    }

    public HttpClient Client(string? apiKey = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }

        return client;
    }

    public static byte[] Leaf(
        string id, string tenant, string decision = "allow", string route = "orders", string path = "/orders/1", string? principal = null, DateTimeOffset? time = null) =>
        AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = id,
            Time = time ?? DateTimeOffset.UtcNow,
            Instance = "edge-test",
            Tenant = tenant,
            Decision = decision,
            Route = route,
            Method = "GET",
            Path = path,
            Status = decision == "allow" ? 200 : 403,
            Subject = new AuditSubject { Principal = principal ?? "user-" + id, ClientIp = "127.0.0.1" },
        });

    public async Task<HttpResponseMessage> IngestAsync(IEnumerable<byte[]> leaves, long lastSequence, string? token = null, string? host = null)
    {
        using var client = Client();
        var body = leaves.SelectMany(l => l.Append((byte)'\n')).ToArray();
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(IngestProtocol.ContentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, IngestProtocol.Path) { Content = content };
        request.Headers.Add(IngestProtocol.LastSequenceHeader, lastSequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (host is not null)
        {
            request.Headers.Host = host;
        }

        return await client.SendAsync(request);
    }

    public async Task<string> WaitForCheckpointAsync(long size)
    {
        using var client = Client();
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var note = await client.GetStringAsync("/audit/checkpoint");
            if (note.Split('\n')[1] == size.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                return note;
            }

            Clock?.Advance(TimeSpan.FromMilliseconds(200));
            await Task.Delay(100);
        }

        throw new TimeoutException($"No checkpoint at size {size} within 10 s.");
    }

    private static string Sha(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public async ValueTask DisposeAsync()
    {
        await StopAppAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
