using Edge.Audit.Merkle;
using Edge.Audit.Tiles;

namespace Edge.Audit.Tests.Tiles;

public sealed class TileEdgeTests
{
    /// <summary>The spec's example: a tree of 70,000 leaves.</summary>
    [Fact]
    public void TakeChanges_SpecExample70000_StoresTheSpecsTiles()
    {
        var log = new TileTestLog();

        log.AppendTo(70_000);

        Assert.Equal(273, log.FullTiles.Count(t => t.Level == 0));
        Assert.Equal(1, log.FullTiles.Count(t => t.Level == 1));
        Assert.Equal(274, log.FullTiles.Count);
        Assert.Equal([(0, 273L, 112), (1, 1L, 17), (2, 0L, 1)], log.Partials.OrderBy(p => p.Level).Select(p => (p.Level, p.Index, p.Width)));
        AssertTilesFollowTheSpec(log, 70_000);
    }

    [Fact]
    public void TakeChanges_Size256_IsOneFullLevel0TileAndPartialLevel1OfWidth1()
    {
        var log = new TileTestLog();

        log.AppendTo(256);

        Assert.Equal([(0, 0L)], log.FullTiles);
        Assert.Equal([(1, 0L, 1)], log.Partials.Select(p => (p.Level, p.Index, p.Width)));
        Assert.Equal(log.Mth(0, 256), log.Read(1, 0)!.Hash(0).ToArray());
    }

    [Fact]
    public void TakeChanges_GrownInUnevenBatches_TilesFollowTheSpecAtEverySize()
    {
        var log = new TileTestLog();
        var random = new Random(17);
        while (log.Edge.Size < 3000)
        {
            log.AppendTo(log.Edge.Size + random.Next(1, 300));
            AssertTilesFollowTheSpec(log, log.Edge.Size);
        }
    }

    [Fact]
    public void Root_Sizes0To1000AndLevelBoundaries_EqualsRfc6962Mth()
    {
        var log = new TileTestLog();
        Assert.Equal(MerkleHasher.EmptyRoot.ToArray(), log.Edge.Root());
        foreach (var size in Enumerable.Range(1, 1000).Concat([65_535, 65_536, 65_537, 65_536 + 256, 70_000]))
        {
            log.AppendTo(size);
            Assert.Equal(log.Mth(0, size), log.Edge.Root());
        }
    }

    [Fact]
    public void Restore_FromStoredPartials_ContinuesLikeTheOriginal()
    {
        var log = new TileTestLog();
        log.AppendTo(65_536 + 300);

        var restored = TileEdge.Restore(log.Edge.Size, log.Read);
        Assert.Equal(log.Edge.Root(), restored.Root());
        var hash = TileTestLog.Leaf([1, 2, 3]);
        restored.AppendLeafHash(hash);
        log.Edge.AppendLeafHash(hash);
        Assert.Equal(log.Edge.Root(), restored.Root());
        Assert.Equal(log.Edge.TakeChanges().Partials.Select(p => p.Hashes), restored.TakeChanges().Partials.Select(p => p.Hashes));
    }

    [Fact]
    public void Restore_PartialTileMissing_Throws()
    {
        var log = new TileTestLog();
        log.AppendTo(300);

        Assert.Throws<InvalidOperationException>(() => TileEdge.Restore(301, log.Read));
    }

    /// <summary>
    /// Tile n at level l holds MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l]) for i in 0..255; the partial tile at
    /// level l of a tree of size s has floor(s / 256^l) mod 256 hashes and no empty tile is stored.
    /// </summary>
    private static void AssertTilesFollowTheSpec(TileTestLog log, long size)
    {
        for (var level = 0; Pow256(level) <= size; level++)
        {
            var span = Pow256(level);
            var hashes = size / span;
            for (var n = 0L; n * 256 < hashes; n++)
            {
                var tile = log.Read(level, n);
                var expectedWidth = (int)Math.Min(256, hashes - n * 256);
                Assert.NotNull(tile);
                Assert.Equal(expectedWidth, tile.Width);
                for (var i = 0; i < expectedWidth; i++)
                {
                    var start = (n * 256 + i) * span;
                    Assert.Equal(log.Mth(start, start + span), tile.Hash(i).ToArray());
                }
            }

            Assert.Null(log.Read(level, (hashes + 255) / 256));
        }

        Assert.All(log.Partials, p => Assert.InRange(p.Width, 1, 255));
    }

    private static long Pow256(int level) => 1L << (8 * level);
}
