using Microsoft.Extensions.Configuration;

namespace Edge.Configuration.Tests.Configuration;

public sealed class HostSettingsTests
{
    public enum Durability
    {
        ProcessCrash,
        PowerLoss,
    }

    public sealed record AuditSettings
    {
        public Durability SpoolDurability { get; init; }
    }

    [Fact]
    public void UnconvertibleSetting_UnknownEnumName_ListsTheNames()
    {
        // Before: "error: Edge:Audit:SpoolDurability: 'Power' is not a valid SpoolDurability", naming a type, not a value.
        var exception = Assert.Throws<InvalidOperationException>(() => Bind("SpoolDurability", "Power"));

        Assert.Equal("error: Edge:Audit:SpoolDurability: 'Power' is not one of ProcessCrash, PowerLoss", HostSettings.UnconvertibleSetting(exception));
    }

    /// <summary>
    /// appsettings.json with <c>"Redis"</c> and <c>"redis"</c> in one object (configuration keys are case-insensitive, so
    /// one would be lost): the JSON provider refuses it, and the edge and the writer stopped with the runtime's stack trace
    /// and exit 134 instead of one line naming the file and the key.
    /// </summary>
    [Theory]
    [InlineData("""{ "Edge": { "Redis": "127.0.0.1:1", "redis": "127.0.0.1:2" } }""", "Edge:redis")]
    [InlineData("""{ "Writer": { "IngestToken": "env:A", "ingestToken": "env:B" } }""", "Writer:ingestToken")]
    public void OneLine_SettingsFileWithNamesDifferingInCase_NamesTheFileAndTheKey(string json, string key)
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("edge-settings-").FullName, "appsettings.json");
        File.WriteAllText(file, json);
        try
        {
            var refused = Assert.ThrowsAny<Exception>(() => new ConfigurationBuilder().AddJsonFile(file).Build());

            var line = HostSettings.OneLine(refused, static _ => false);

            Assert.NotNull(line);
            Assert.StartsWith($"error: {file}: ", line, StringComparison.Ordinal);
            Assert.Contains($"'{key}'", line, StringComparison.Ordinal);
            Assert.Contains("case", line, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }

    [Fact]
    public void OneLine_SettingsFileNotJson_NamesTheFile()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("edge-settings-").FullName, "appsettings.json");
        File.WriteAllText(file, "{ \"Edge\": { \"Redis\": ");
        try
        {
            var refused = Assert.ThrowsAny<Exception>(() => new ConfigurationBuilder().AddJsonFile(file).Build());

            Assert.StartsWith($"error: {file}: ", HostSettings.OneLine(refused, static _ => false), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }

    private static AuditSettings? Bind(string key, string value) =>
        new ConfigurationBuilder().AddInMemoryCollection([new($"Edge:Audit:{key}", value)]).Build()
            .GetSection("Edge:Audit").Get<AuditSettings>();
}
