using Edge.Audit.Spool;

namespace Edge.Audit.Tests.Spool;

public sealed class SpoolAckMarkTests : IDisposable
{
    private readonly SpoolTestDirectory _directory = new();

    [Fact]
    public async Task LoadAsync_NoFile_ReturnsZero()
    {
        var mark = new SpoolAckMark(_directory.Path);

        Assert.Equal(0, await mark.LoadAsync(CancellationToken.None));
        Assert.Equal(0, mark.Sequence);
    }

    [Fact]
    public async Task Persist_ThenLoadAsyncInNewInstance_ReturnsPersistedMark()
    {
        new SpoolAckMark(_directory.Path).Persist(41);
        var reloaded = new SpoolAckMark(_directory.Path);

        Assert.Equal(41, await reloaded.LoadAsync(CancellationToken.None));
        Assert.Equal(41, reloaded.Sequence);
    }

    [Fact]
    public void Persist_Twice_LeavesOnlyTheEightByteMarkFile()
    {
        var mark = new SpoolAckMark(_directory.Path);
        mark.Persist(5);
        mark.Persist(9);

        var file = Assert.Single(Directory.GetFiles(_directory.Path));
        Assert.Equal(SpoolAckMark.FileName, Path.GetFileName(file));
        Assert.Equal(8, new FileInfo(file).Length);
        Assert.Equal(9, mark.Sequence);
    }

    [Fact]
    public async Task LoadAsync_FileNotEightBytes_ReturnsZero()
    {
        await File.WriteAllBytesAsync(Path.Combine(_directory.Path, SpoolAckMark.FileName), [1, 2, 3]);

        Assert.Equal(0, await new SpoolAckMark(_directory.Path).LoadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Persist_NoRoomForTheTempFile_OverwritesTheMarkInPlace()
    {
        var mark = new SpoolAckMark(_directory.Path);
        mark.Persist(5);
        // A full disk has no block for the temp file (a directory in its place fails its creation the same way, even for
        // root). Before, every persist failed: the mark never moved, so no acknowledged segment was ever deleted and the
        // full disk never got room back, with the spool refusing every record until an operator freed space.
        Directory.CreateDirectory(Path.Combine(_directory.Path, SpoolAckMark.FileName + ".tmp"));

        mark.Persist(9);

        Assert.Equal(9, mark.Sequence);
        Assert.Equal(9, await new SpoolAckMark(_directory.Path).LoadAsync(CancellationToken.None));
    }

    public void Dispose() => _directory.Dispose();
}
