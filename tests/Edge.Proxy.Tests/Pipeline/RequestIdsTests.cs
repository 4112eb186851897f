using System.Globalization;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class RequestIdsTests
{
    [Fact]
    public void NewId_Always_IsUuidVersion7InLowercaseHex()
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1_764_633_600_123);

        for (var i = 0; i < 1000; i++)
        {
            var id = RequestIds.NewId(now);

            Assert.Matches("^[0-9a-f]{32}$", id);
            var guid = Guid.ParseExact(id, "N");
            Assert.Equal(7, guid.Version);
            Assert.Contains(id[16], "89ab");
        }
    }

    [Fact]
    public void NewId_GivenTime_CarriesItsUnixMillisecondsInTheFirst48Bits()
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1_764_633_600_123);

        var id = RequestIds.NewId(now);

        Assert.Equal(now.ToUnixTimeMilliseconds(), long.Parse(id[..12], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
    }

    [Fact]
    public void NewId_SameMillisecondAcrossThreads_NeverRepeats()
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1_764_633_600_123);
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();

        Parallel.For(0, 4, _ =>
        {
            // More than one buffer's worth per thread, so refills are crossed.
            for (var i = 0; i < 5000; i++)
            {
                ids.Add(RequestIds.NewId(now));
            }
        });

        Assert.Equal(20_000, ids.Distinct().Count());
    }
}
