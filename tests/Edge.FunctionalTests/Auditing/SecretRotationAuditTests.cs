using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.AuditWriter.Tests;
using Edge.Testing;

namespace Edge.FunctionalTests.Auditing;

/// <summary>Hot reloads against a real edge and a real writer: secret and key rotations become audit records without secrets.</summary>
public sealed class SecretRotationAuditTests : IDisposable
{
    private const string KeptSecretBefore = "kept-webhook-secret-before-7d1f0a";
    private const string KeptSecretAfter = "kept-webhook-secret-after-93be4c";
    private const string RetiredSecret = "retired-webhook-secret-51c2e8";
    private const string IntroducedSecret = "introduced-webhook-secret-0a6d3f";
    private const string OldApiKey = "old-partner-api-key-2b7e91";
    private const string NewApiKey = "new-partner-api-key-c48d05";

    private readonly string _secrets = Directory.CreateTempSubdirectory("edge-rotation-audit-").FullName;

    public void Dispose() => Directory.Delete(_secrets, recursive: true);

    [Fact]
    public async Task HotReload_RotatesWebhookSecretsAndApiKey_WritesRotationRecordsWithoutSecrets()
    {
        using var backend = Backend.Start();
        await using var writer = await WriterFixture.StartAsync();
        var kept = SecretFile("kept", KeptSecretBefore);
        var retired = SecretFile("retired", RetiredSecret);
        var introduced = SecretFile("introduced", IntroducedSecret);
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url, [kept, retired], [OldApiKey]), new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString(),
        });

        // A reload that touches nothing secret: a new route only.
        await edge.WriteConfigAsync(Config(backend.Url, [kept, retired], [OldApiKey], extraRoute: true));
        await WaitForRecordsAsync(writer, records => ConfigApplied(records).Count == 2);
        Assert.Empty(Rotations(await WaitForRecordsAsync(writer, _ => true)));

        // Rotation: the kept reference now resolves to a new value, one secret retired, one introduced, one API key added.
        await File.WriteAllTextAsync(kept[5..], KeptSecretAfter);
        await edge.WriteConfigAsync(Config(backend.Url, [kept, introduced], [OldApiKey, NewApiKey], extraRoute: true));
        var records = await WaitForRecordsAsync(writer, records => ConfigApplied(records).Count == 3 && Rotations(records).Count == 2);

        var revision = Attributes(ConfigApplied(records)[2]).GetProperty("revision").GetString();
        var rotations = Rotations(records);
        var webhook = rotations.Single(r => Attributes(r).GetProperty("kind").GetString() == "webhook_secret");
        var apiKey = rotations.Single(r => Attributes(r).GetProperty("kind").GetString() == "api_key");
        Assert.All(rotations, r =>
        {
            Assert.Equal("rotated", r.GetProperty("data").GetProperty("decision").GetString());
            Assert.Equal("config", r.GetProperty("data").GetProperty("step").GetString());
            Assert.Equal(revision, Attributes(r).GetProperty("revision").GetString());
        });
        Assert.Equal("webhook_secret", webhook.GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal("github", Attributes(webhook).GetProperty("policy").GetString());
        Assert.Equal(("1", "1", "1"), Counts(webhook));
        Assert.Equal("partner-keys", Attributes(apiKey).GetProperty("policy").GetString());
        Assert.Equal(("1", "0", "0"), Counts(apiKey));
        Assert.Equal(Sha256Hex(NewApiKey)[..8], Attributes(apiKey).GetProperty("addedKeys").GetString());
        Assert.Equal("", Attributes(apiKey).GetProperty("removedKeys").GetString());

        var stored = string.Join("\n", (await WaitForRecordsAsync(writer, _ => true)).Select(r => Encoding.UTF8.GetString(r.Leaf)));
        foreach (var secret in new[] { KeptSecretBefore, KeptSecretAfter, RetiredSecret, IntroducedSecret, OldApiKey, NewApiKey })
        {
            Assert.DoesNotContain(secret, stored, StringComparison.Ordinal);
            Assert.DoesNotContain(Sha256Hex(secret), stored, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(secret))), stored, StringComparison.Ordinal);
        }
    }

    private static (string?, string?, string?) Counts(JsonElement record)
    {
        var attributes = Attributes(record);
        return (attributes.GetProperty("added").GetString(), attributes.GetProperty("removed").GetString(), attributes.GetProperty("valueChanged").GetString());
    }

    private static JsonElement Attributes(JsonElement record) => record.GetProperty("data").GetProperty("attributes");

    private static List<JsonElement> ConfigApplied(IReadOnlyList<StoredRecord> records) => OfType(records, AuditEventTypes.ConfigApplied);

    private static List<JsonElement> Rotations(IReadOnlyList<StoredRecord> records) => OfType(records, AuditEventTypes.KeyRotated);

    private static List<JsonElement> OfType(IReadOnlyList<StoredRecord> records, string type) =>
        [.. records.OrderBy(r => r.Index)
            .Select(r => JsonDocument.Parse(r.Leaf).RootElement)
            .Where(r => r.GetProperty("type").GetString() == type)];

    private static async Task<IReadOnlyList<StoredRecord>> WaitForRecordsAsync(WriterFixture writer, Func<IReadOnlyList<StoredRecord>, bool> done)
    {
        IReadOnlyList<StoredRecord> records = [];
        for (var attempt = 0; attempt < 150; attempt++)
        {
            using (var store = AuditStore.OpenReadOnly(writer.StorePath))
            {
                records = store.Export(new RecordQuery()).ToList();
            }

            if (done(records))
            {
                return records;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The writer's {records.Count} records did not reach the expected state within 15 s.");
    }

    private static string Config(string backendUrl, string[] webhookSecrets, string[] apiKeys, bool extraRoute = false)
    {
        var routes = new Dictionary<string, object>
        {
            ["hooks"] = ProxyJson.Route("/hooks/github", new Dictionary<string, string> { ["EdgeWebhook"] = "github" }),
            ["partners"] = ProxyJson.Route("/partners/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "partner-keys" }),
        };
        if (extraRoute)
        {
            routes["status"] = ProxyJson.Route("/status");
        }

        return ProxyJson.Create(backendUrl, routes, new
        {
            Webhooks = new Dictionary<string, object> { ["github"] = new { Scheme = "GitHub", Secrets = webhookSecrets } },
            Authentication = new Dictionary<string, object>
            {
                ["partner-keys"] = new
                {
                    Type = "ApiKey",
                    Keys = apiKeys.Select(k => new { Sha256 = Sha256Hex(k), Principal = "partner-a", Roles = new[] { "Agent" } }).ToArray(),
                },
            },
            Roles = new Dictionary<string, string[]> { ["Agent"] = ["orders.read"] },
        });
    }

    private string SecretFile(string name, string value)
    {
        var path = Path.Combine(_secrets, name);
        File.WriteAllText(path, value);
        return "file:" + path;
    }

    private static string Sha256Hex(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
}
