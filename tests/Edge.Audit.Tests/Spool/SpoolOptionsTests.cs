using Edge.Audit.Spool;

namespace Edge.Audit.Tests.Spool;

public sealed class SpoolOptionsTests
{
    [Theory]
    [InlineData(SpoolDurability.ProcessCrash, 100)]
    [InlineData(SpoolDurability.PowerLoss, 2)]
    public void EffectiveCommitInterval_NotSet_IsTheDurabilitysDefault(SpoolDurability durability, int milliseconds)
    {
        var options = new SpoolOptions { Directory = "spool", Durability = durability };

        Assert.Null(options.CommitInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), options.EffectiveCommitInterval);
    }

    [Theory]
    [InlineData(SpoolDurability.ProcessCrash)]
    [InlineData(SpoolDurability.PowerLoss)]
    public void EffectiveCommitInterval_Set_IsTheSetValue(SpoolDurability durability)
    {
        var options = new SpoolOptions { Directory = "spool", Durability = durability, CommitInterval = TimeSpan.FromMilliseconds(7) };

        Assert.Equal(TimeSpan.FromMilliseconds(7), options.EffectiveCommitInterval);
    }
}
