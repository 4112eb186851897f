using System.Reflection;
using Edge.AuditWriter.Hosting;
using Microsoft.Extensions.Logging;

namespace Edge.AuditWriter.Tests.Hosting;

/// <summary>
/// The writer's event ids in its range (2100-2199, docs/architecture.md) identify one event each: two branches once both
/// took 2132/2133 (sequencer/standby and the tile build), and a log search for one found the other.
/// </summary>
public sealed class WriterLogEventIdTests
{
    [Fact]
    public void LoggerMessages_AuditWriterRange_Unique()
    {
        var ids = typeof(WriterApp).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => m.GetCustomAttribute<LoggerMessageAttribute>()?.EventId)
            .OfType<int>()
            .Where(id => id is >= 2100 and <= 2199)
            .ToList();

        Assert.Contains(2134, ids);
        Assert.Empty(ids.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key));
    }
}
