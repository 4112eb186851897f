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

    private static AuditSettings? Bind(string key, string value) =>
        new ConfigurationBuilder().AddInMemoryCollection([new($"Edge:Audit:{key}", value)]).Build()
            .GetSection("Edge:Audit").Get<AuditSettings>();
}
