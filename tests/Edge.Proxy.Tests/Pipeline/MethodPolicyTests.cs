using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class MethodPolicyTests
{
    private static RouteConfig Route(string? allowTrace = null, string[]? methods = null) => new()
    {
        RouteId = "r",
        ClusterId = "c",
        Match = new RouteMatch { Path = "/{**rest}", Methods = methods },
        Metadata = allowTrace is null ? null : new Dictionary<string, string> { [MethodPolicy.AllowTraceMetadataKey] = allowTrace },
    };

    [Theory]
    [InlineData("CONNECT", null, true)]
    [InlineData("CONNECT", "true", true)]
    [InlineData("TRACE", null, true)]
    [InlineData("trace", "false", true)]
    [InlineData("TRACE", "true", false)]
    [InlineData("GET", null, false)]
    [InlineData("FOO", null, false)]
    public void IsRefused_MethodAndAllowTrace_RefusesOnlyConnectAndUnallowedTrace(string method, string? allowTrace, bool refused) =>
        Assert.Equal(refused, MethodPolicy.IsRefused(method, Route(allowTrace)));

    [Fact]
    public void AllowHeader_RouteWithMethodsAndAllowTrace_ListsRouteMethods() =>
        Assert.Equal("GET, TRACE", MethodPolicy.AllowHeader(Route("true", ["get", "TRACE"])));

    [Theory]
    [InlineData("yes")]
    [InlineData("")]
    public void Validate_AllowTraceNotBoolean_ErrorAtMetadataKey(string value)
    {
        var errors = new ConfigErrorList();

        MethodPolicy.Validate(Route(value), "ReverseProxy:Routes:r", errors);

        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Routes:r:Metadata:EdgeAllowTrace", error.Location);
    }
}
