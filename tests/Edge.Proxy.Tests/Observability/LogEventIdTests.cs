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
        var messages = LoggerMessages(typeof(EdgeApplication).Assembly.GetTypes());

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

    [Fact]
    public void LoggerMessages_AuditShipper_InAuditingRangeAndUnusedByTheProxy()
    {
        // The shipper lives in Edge.Audit but logs inside the edge process, so its ids share the edge's Auditing range.
        var shipper = LoggerMessages([typeof(Edge.Audit.Shipping.AuditShipper), .. typeof(Edge.Audit.Shipping.AuditShipper).GetNestedTypes(BindingFlags.NonPublic)]);
        var proxyIds = LoggerMessages(typeof(EdgeApplication).Assembly.GetTypes()).Select(m => m.Attribute!.EventId).ToHashSet();

        Assert.NotEmpty(shipper);
        Assert.All(shipper, m =>
        {
            Assert.InRange(m.Attribute!.EventId, Ranges["Auditing"].First, Ranges["Auditing"].Last);
            Assert.DoesNotContain(m.Attribute.EventId, proxyIds);
        });
        Assert.Equal(shipper.Count, shipper.Select(m => m.Attribute!.EventId).Distinct().Count());
    }

    private static List<(MethodInfo Method, LoggerMessageAttribute? Attribute)> LoggerMessages(IEnumerable<Type> types) =>
        types.SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is not null)
            .ToList();
}
