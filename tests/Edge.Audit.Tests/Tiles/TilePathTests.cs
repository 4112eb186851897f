using Edge.Audit.Tiles;

namespace Edge.Audit.Tests.Tiles;

public sealed class TilePathTests
{
    [Theory]
    [InlineData(false, 0, 1234067L, 256, "tile/0/x001/x234/067")]
    [InlineData(false, 1, 0L, 17, "tile/1/000.p/17")]
    [InlineData(false, 2, 999L, 256, "tile/2/999")]
    [InlineData(false, 3, 1000L, 1, "tile/3/x001/000.p/1")]
    [InlineData(true, 0, 5L, 256, "tile/entries/005")]
    [InlineData(true, 0, 1234067L, 255, "tile/entries/x001/x234/067.p/255")]
    public void FormatAndTryParse_SpecExamples_RoundTrip(bool entries, int level, long index, int width, string path)
    {
        var address = new TileAddress(entries, level, index, width);

        Assert.Equal(path, TilePath.Format(address));
        Assert.True(TilePath.TryParse(path["tile/".Length..], out var parsed));
        Assert.Equal(address, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("0/")]
    [InlineData("00/001")]
    [InlineData("64/001")]
    [InlineData("-1/001")]
    [InlineData("a/001")]
    [InlineData("0/1")]
    [InlineData("0/0001")]
    [InlineData("0/x000/001")]
    [InlineData("0/001/002")]
    [InlineData("0/x001")]
    [InlineData("0/x1/002")]
    [InlineData("0/001.p/0")]
    [InlineData("0/001.p/256")]
    [InlineData("0/001.p/07")]
    [InlineData("0/001.p/")]
    [InlineData("0/001.p")]
    [InlineData("0/001.x/5")]
    [InlineData("entries/001.p/5/6")]
    [InlineData("entry/001")]
    [InlineData("0/x009/x223/x372/x036/x854/x775/808")]
    [InlineData("0/x999/x999/x999/x999/x999/x999/999")]
    public void TryParse_NonCanonicalOrMalformed_IsRefused(string path)
    {
        Assert.False(TilePath.TryParse(path, out _));
    }
}
