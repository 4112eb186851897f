using Edge.Audit.Spool;
using Edge.Proxy.Auditing;
using Microsoft.Extensions.Configuration;

namespace Edge.Proxy.Tests.Auditing;

public sealed class SpoolAuditSinkTests
{
    [Theory]
    [InlineData(null, 100)]
    [InlineData("ProcessCrash", 100)]
    [InlineData("PowerLoss", 2)]
    public void SpoolOptionsOf_NoCommitIntervalConfigured_UsesTheDurabilitysDefault(string? durability, int milliseconds)
    {
        var options = SpoolAuditSink.SpoolOptionsOf(Bind(("SpoolDurability", durability)));

        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), options.EffectiveCommitInterval);
    }

    [Theory]
    [InlineData("ProcessCrash")]
    [InlineData("PowerLoss")]
    public void SpoolOptionsOf_CommitIntervalConfigured_UsesItWhateverTheDurability(string durability)
    {
        var options = SpoolAuditSink.SpoolOptionsOf(Bind(("SpoolDurability", durability), ("SpoolCommitInterval", "00:00:00.010")));

        Assert.Equal(Enum.Parse<SpoolDurability>(durability), options.Durability);
        Assert.Equal(TimeSpan.FromMilliseconds(10), options.EffectiveCommitInterval);
    }

    private static EdgeAuditOptions Bind(params (string Key, string? Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Where(s => s.Value is not null).Select(s => KeyValuePair.Create("Edge:Audit:" + s.Key, s.Value)))
            .Build();
        return configuration.GetSection("Edge:Audit").Get<EdgeAuditOptions>() ?? new EdgeAuditOptions();
    }
}
