using System.Reflection;
using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Edge.Proxy.Tests.Pipeline;

/// <summary>
/// Kestrel reports a body it refused on an aborted request through internals only (an exception type, fixed English
/// messages). The edge matches them by name; when a Kestrel update renames one, these fail, instead of every such request
/// quietly being recorded as a client that went away (499 client_aborted).
/// </summary>
public sealed class KestrelBodyAbortsTests
{
    private static readonly Assembly Kestrel = typeof(KestrelServerOptions).Assembly;

    [Fact]
    public void Http2StreamErrorTypeName_NamesKestrelsStreamErrorException()
    {
        var type = Kestrel.GetType(KestrelBodyAborts.Http2StreamErrorTypeName);

        Assert.True(type is not null && typeof(Exception).IsAssignableFrom(type), $"Kestrel has no exception type {KestrelBodyAborts.Http2StreamErrorTypeName}");
    }

    [Fact]
    public void KestrelEndReason_NamesKestrelsConnectionEndReasonAndItsFeature()
    {
        var context = KestrelEndReason.FeatureType?.GetProperty("MetricsContext")?.PropertyType;
        var reason = context?.GetProperty("ConnectionEndReason")?.PropertyType;

        Assert.True(KestrelEndReason.FeatureType is { IsInterface: true }, $"Kestrel has no feature {KestrelEndReason.FeatureTypeName}");
        var values = Nullable.GetUnderlyingType(reason!) is { IsEnum: true } endReason ? Enum.GetNames(endReason) : [];
        Assert.Contains(KestrelEndReason.MinRequestBodyDataRate, values);
        Assert.Contains(KestrelEndReason.InvalidRequestHeaders, values);
    }

    [Theory]
    [InlineData("BadRequest_RequestBodyTimeout", KestrelBodyAborts.RequestBodyTimeoutMessage)]
    [InlineData("BadRequest_UnexpectedEndOfRequestContent", EdgeBodyBufferingTransform.UnexpectedEndOfRequestContent)]
    public void MatchedMessages_AreKestrelsOwnText(string resource, string matched)
    {
        var text = Kestrel.GetType("Microsoft.AspNetCore.Server.Kestrel.Core.CoreStrings")
            ?.GetProperty(resource, BindingFlags.Static | BindingFlags.NonPublic)
            ?.GetValue(null);

        Assert.Equal(matched, text);
    }
}
