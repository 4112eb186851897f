using System.Reflection;
using Edge.Proxy;
using Microsoft.Extensions.Logging;

namespace Edge.Proxy.Tests.Observability;

/// <summary>Event ids identify a log event across releases: unique in the proxy, and inside the range of their area.</summary>
public sealed class LogEventIdTests
{
    // The ranges documented in docs/architecture.md.
    private static readonly Dictionary<string, (int First, int Last)> Ranges = new(StringComparer.Ordinal)
    {
        ["Pipeline"] = (1000, 1099),
        ["Tenancy"] = (1100, 1199),
        ["Authorization"] = (1200, 1299),
        ["RateLimiting"] = (1300, 1399),
        ["Webhooks"] = (1400, 1499),
        ["Auditing"] = (1500, 1599),
        ["Configuration"] = (1600, 1699),
        ["Observability"] = (1700, 1799),
        ["Redis"] = (1800, 1899),
        ["ThreatProtection"] = (2300, 2399),
        ["Validation"] = (2400, 2499),
        ["Approvals"] = (1900, 1999),
    };

    [Fact]
    public void LoggerMessages_EdgeProxy_UniqueAndInTheirAreasRange()
    {
        var messages = typeof(EdgeApplication).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is not null)
            .ToList();

        Assert.NotEmpty(messages);
        var duplicates = messages.GroupBy(m => m.Attribute!.EventId).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(duplicates);
        Assert.All(messages, m =>
        {
            var area = m.Method.DeclaringType!.Namespace!.Split('.')[2];
            Assert.True(Ranges.TryGetValue(area, out var range), $"no event id range for area {area}");
            Assert.InRange(m.Attribute!.EventId, range.First, range.Last);
        });
    }
}
