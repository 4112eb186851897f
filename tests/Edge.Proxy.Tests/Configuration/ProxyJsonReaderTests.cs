using System.Text;
using Edge.Proxy.Configuration;

namespace Edge.Proxy.Tests.Configuration;

public sealed class ProxyJsonReaderTests
{
    [Fact]
    public void Parse_ReferenceShape_ReadsRoutesClustersAndPolicies()
    {
        var json = """
        {
          "ReverseProxy": {
            "Routes": {
              "orders": {
                "ClusterId": "legacy", "Match": { "Path": "/orders/{**rest}" }, "Metadata": { "EdgeAudit": "Required" },
                "Transforms": [ { "EdgeTenant": "Header", "Name": "X-Tenant-ID", "Required": true }, { "EdgeRateLimit": "per-tenant" } ]
              }
            },
            "Clusters": { "legacy": { "Destinations": { "d1": { "Address": "http://127.0.0.1:9001/" } } } }
          },
          "Edge": {
            "RateLimits": { "per-tenant": { "Limit": 100, "Window": "00:01:00", "Key": "{tenant}" } },
            "Roles": { "Viewer": [ "orders.read" ] }
          }
        }
        """;
        var errors = new ConfigErrorList();

        var parsed = ProxyJsonReader.Parse(Encoding.UTF8.GetBytes(json), errors);

        Assert.NotNull(parsed);
        Assert.False(errors.HasErrors);
        var route = Assert.Single(parsed.Routes);
        Assert.Equal("orders", route.RouteId);
        Assert.Equal("true", route.Transforms![0]["Required"]);
        Assert.Equal("EdgeTenant", route.Transforms[0].Keys.First());
        Assert.Equal("legacy", Assert.Single(parsed.Clusters).ClusterId);
        Assert.Equal(100, parsed.Edge.RateLimits["per-tenant"].Limit);
        Assert.Equal(["orders.read"], parsed.Edge.Roles["Viewer"]);
    }

    [Theory]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"ClusterId\": \"c\", \"Matsh\": {} } } } }", "Matsh")]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"ClusterId\": 5 ", "line")]
    [InlineData("{ \"Edge\": {} }", "ReverseProxy")]
    [InlineData("   \n", "empty")]
    public void Parse_BadDocument_PreciseError(string json, string expectedFragment)
    {
        var errors = new ConfigErrorList();

        var parsed = ProxyJsonReader.Parse(Encoding.UTF8.GetBytes(json), errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Contains(expectedFragment, error.Location + " " + error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("$.ReverseProxy.Routes.orders.Match", "ReverseProxy:Routes:orders:Match")]
    [InlineData("$.ReverseProxy.Routes.orders.Transforms[0].EdgeTenant", "ReverseProxy:Routes:orders:Transforms[0]:EdgeTenant")]
    [InlineData("$.ReverseProxy.Routes['my route'].ClusterId", "ReverseProxy:Routes:my route:ClusterId")]
    [InlineData("$.Edge.Roles['a.b'][2]", "Edge:Roles:a.b[2]")]
    [InlineData("$", "proxy.json")]
    [InlineData(null, "proxy.json")]
    public void LocationOf_JsonPath_DocumentedLocationForm(string? jsonPath, string expected)
    {
        Assert.Equal(expected, ProxyJsonReader.LocationOf(jsonPath));
    }

    [Theory]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"ClusterId\": 5 } } } }", "ReverseProxy:Routes:a:ClusterId")]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"ClusterId\": \"c\", \"Matsh\": {} } } } }", "ReverseProxy:Routes:a:Matsh")]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"Transforms\": [ { \"EdgeTenant\": [] } ] } } } }", "ReverseProxy:Routes:a:Transforms[0]")]
    public void Parse_MalformedJson_LocationInDocumentedFormNotJsonPath(string json, string expectedPrefix)
    {
        var errors = new ConfigErrorList();

        ProxyJsonReader.Parse(Encoding.UTF8.GetBytes(json), errors);

        var error = Assert.Single(errors.Errors);
        Assert.StartsWith(expectedPrefix, error.Location, StringComparison.Ordinal);
        Assert.DoesNotContain("$", error.Location + error.Message, StringComparison.Ordinal);
    }
}
