using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration.Tests.Configuration;

public sealed class ProxyConfigFileValidatorTests
{
    [Fact]
    public async Task ValidateAsync_ShippedProxyJsonWithSampleSecrets_NoErrors()
    {
        var root = TestPaths.RepositoryRoot();
        LoadSampleEnvironment(Path.Combine(root, "config", ".env.example"));

        var errors = await ProxyConfigFileValidator.ValidateAsync(Path.Combine(root, "proxy.json"));

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Theory]
    [InlineData("load/bench/proxy.bare.json")]
    [InlineData("load/bench/proxy.full.json")]
    [InlineData("load/bench/proxy.tenant.json")]
    [InlineData("load/bench/proxy.scenarios.json")]
    public async Task ValidateAsync_BenchmarkConfigs_NoErrors(string relativePath)
    {
        var root = TestPaths.RepositoryRoot();
        LoadSampleEnvironment(Path.Combine(root, "config", ".env.example"));

        var errors = await ProxyConfigFileValidator.ValidateAsync(Path.Combine(root, relativePath));

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Fact]
    public async Task ValidateAsync_ConfigPathIsAnEndlessDevice_ReportsTheSizeCap()
    {
        var errors = await ProxyConfigFileValidator.ValidateAsync("/dev/zero");

        var error = Assert.Single(errors);
        Assert.Equal("proxy.json", error.Location);
        Assert.Contains("larger than 32 MiB", error.Message);
    }

    [Fact]
    public async Task ValidateAsync_ConfigPathIsADirectory_SaysItIsADirectory()
    {
        var directory = Directory.CreateTempSubdirectory().FullName;
        try
        {
            var errors = await ProxyConfigFileValidator.ValidateAsync(directory);

            // Before: "cannot be read: Access to the path '…' is denied", which read as a permission problem.
            AssertSingleError(errors, "proxy.json", $"the file '{directory}' is a directory, not a file");
        }
        finally
        {
            Directory.Delete(directory);
        }
    }

    [Fact]
    public async Task ValidateAsync_CheckThrows_ReportsAnErrorInsteadOfThrowing()
    {
        var errors = await ValidateOneRouteAsync(configureServices: services => services.AddSingleton<IEdgeRouteValidator, ThrowingRouteValidator>());

        AssertSingleError(errors, "proxy.json", $"could not be validated (InvalidOperationException: {ThrowingRouteValidator.Message})");
    }

    [Theory]
    [InlineData("""{ "Path": "/x", "Hosts": [ "api.example.com:abc" ] }""", "Match:Hosts[0]", "port that is not a number")]
    [InlineData("""{ "Path": "/x/{id:nosuch}" }""", "Match:Path", "the constraint 'nosuch' of route parameter 'id' is not a route constraint; use one of alpha, bool,")]
    [InlineData("""{ "Path": "/x/{id:regex(()}" }""", "Match:Path", "the constraint 'regex(()' of route parameter 'id' cannot be used")]
    [InlineData("""{ "Path": "/x/{id:length(a)}" }""", "Match:Path", "the constraint 'length(a)' of route parameter 'id' cannot be used")]
    [InlineData("""{ "Path": "/x", "Headers": [ { "Name": "X-A", "Values": [ "" ], "Mode": "ExactHeader" } ] }""", "Match:Headers[0]:Values", "a value is empty")]
    [InlineData("""{ "Path": "/x", "QueryParameters": [ { "Name": "a", "Values": [ "b", "" ] } ] }""", "Match:QueryParameters[0]:Values", "a value is empty")]
    [InlineData("""{ "Path": "/x", "Headers": [ { "Name": "X A", "Mode": "Exists" } ] }""", "Match:Headers[0]:Name", "is not a header name")]
    [InlineData("""{ "Path": "/x", "Headers": [ { "Name": "X-A", "Values": [ "a\u0000" ] } ] }""", "Match:Headers[0]:Values", "control character")]
    public async Task ValidateAsync_MatchTheRouteTableCannotBuild_ReportsItWithItsLocation(string match, string field, string expected)
    {
        var errors = await ValidateOneRouteAsync(match);

        AssertSingleError(errors, "ReverseProxy:Routes:r1:" + field, expected);
    }

    [Theory]
    [InlineData("""{ "Path": "/x/{id:int}/{name:alpha:minlength(2)}/{slug:regex(^[a-z-]+$)}/{**rest}" }""")]
    [InlineData("""{ "Path": "/x/{id:guid?}" }""")]
    [InlineData("""{ "Hosts": [ "api.example.com", "*.example.com:8443", "bücher.example" ], "Path": "/x" }""")]
    [InlineData("""{ "Path": "/x", "Headers": [ { "Name": "X-A", "Mode": "Exists" } ], "QueryParameters": [ { "Name": "q", "Values": [ "1" ] } ] }""")]
    public async Task ValidateAsync_MatchTheRouteTableBuilds_NoErrors(string match)
    {
        var errors = await ValidateOneRouteAsync(match);

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Theory]
    [InlineData("""{ "HttpRequest": { "ActivityTimeout": "-00:00:01" } }""", "HttpRequest:ActivityTimeout", "is not positive")]
    [InlineData("""{ "HttpRequest": { "ActivityTimeout": "00:00:00" } }""", "HttpRequest:ActivityTimeout", "is not positive")]
    [InlineData("""{ "SessionAffinity": { "Enabled": true, "AffinityKeyName": "my key" } }""", "SessionAffinity:AffinityKeyName", "not a cookie or header name")]
    [InlineData("""{ "SessionAffinity": { "Enabled": true, "Policy": "CustomHeader", "AffinityKeyName": "X-Affinity:" } }""", "SessionAffinity:AffinityKeyName", "not a cookie or header name")]
    // Kestrel refuses a control character in Set-Cookie after the backend served the request (502 for every request of
    // the cluster); a ';' or space ends the attribute and writes the rest as other attributes.
    [InlineData("""{ "SessionAffinity": { "Enabled": true, "AffinityKeyName": "k", "Cookie": { "Domain": "shop.example\r\nX-Injected: 1" } } }""", "SessionAffinity:Cookie:Domain", "not a cookie domain")]
    [InlineData("""{ "SessionAffinity": { "Enabled": true, "AffinityKeyName": "k", "Cookie": { "Domain": "shop.example; secure" } } }""", "SessionAffinity:Cookie:Domain", "not a cookie domain")]
    [InlineData("""{ "SessionAffinity": { "Enabled": true, "AffinityKeyName": "k", "Cookie": { "Domain": "bücher.example" } } }""", "SessionAffinity:Cookie:Domain", "not a cookie domain")]
    [InlineData("""{ "SessionAffinity": { "Enabled": true, "AffinityKeyName": "k", "Cookie": { "Path": "/shop\u0000" } } }""", "SessionAffinity:Cookie:Path", "not a cookie path")]
    [InlineData("""{ "SessionAffinity": { "Enabled": true, "AffinityKeyName": "k", "Cookie": { "Path": "/shop;domain=evil.example" } } }""", "SessionAffinity:Cookie:Path", "not a cookie path")]
    [InlineData("""{ "SessionAffinity": { "Enabled": true, "AffinityKeyName": "k", "Cookie": { "Path": "shop" } } }""", "SessionAffinity:Cookie:Path", "not a cookie path")]
    [InlineData("""{ "HttpClient": { "WebProxy": { "Address": "proxy.internal:3128" } } }""", "HttpClient:WebProxy:Address", "not an absolute proxy URL")]
    [InlineData("""{ "HttpClient": { "WebProxy": { "Address": "/relative" } } }""", "HttpClient:WebProxy:Address", "not an absolute proxy URL")]
    [InlineData("""{ "HealthCheck": { "Active": { "Enabled": true, "Path": "healthz" } } }""", "HealthCheck:Active:Path", "must start with '/'")]
    [InlineData("""{ "HealthCheck": { "Active": { "Enabled": true, "Path": "/healthz", "Query": "probe=1" } } }""", "HealthCheck:Active:Query", "must start with '?'")]
    [InlineData("""{ "Host": "legacy internal" }""", "Destinations:d:Host", "not a Host header value")]
    [InlineData("""{ "Host": "legacy.internal:99999" }""", "Destinations:d:Host", "not a Host header value")]
    public async Task ValidateAsync_ClusterSettingThatFailsEveryRequest_ReportsIt(string settings, string field, string expected)
    {
        // "Host" belongs to the destination, everything else to the cluster.
        using var json = System.Text.Json.JsonDocument.Parse(settings);
        var members = json.RootElement.EnumerateObject().ToArray();
        string Join(IEnumerable<System.Text.Json.JsonProperty> properties) => string.Join(", ", properties.Select(p => $"\"{p.Name}\": {p.Value.GetRawText()}"));

        var errors = await ValidateOneRouteAsync(cluster: Join(members.Where(p => p.Name != "Host")), destination: Join(members.Where(p => p.Name == "Host")));

        AssertSingleError(errors, "ReverseProxy:Clusters:c:" + field, expected);
    }

    [Theory]
    // YARP appends the request's path and query to the address as text: after a '#' the whole request path became a
    // fragment HttpClient never sends (every request of the cluster reached /app), after a '?' it became part of the query.
    [InlineData("Address", "http://127.0.0.1:1/app#main", "a fragment")]
    [InlineData("Address", "http://127.0.0.1:1/app#", "a fragment")]
    [InlineData("Address", "http://127.0.0.1:1/app?tenant=acme", "a query")]
    [InlineData("Address", "http://127.0.0.1:1/?", "a query")]
    [InlineData("Health", "http://127.0.0.1:1/?probe=1", "a query")]
    // HttpClient drops a user name and password in the URL without sending them, and they are an inline secret.
    [InlineData("Address", "http://svc:hunter2@127.0.0.1:1/", "a user name or password")]
    [InlineData("Address", "https://svc@backend.internal/", "a user name or password")]
    [InlineData("Health", "http://svc:hunter2@127.0.0.1:1/", "a user name or password")]
    public async Task ValidateAsync_DestinationAddressWithQueryFragmentOrUserInfo_ErrorAtTheAddress(string field, string address, string expected)
    {
        var destination = field == "Address"
            ? $$"""{ "Address": "{{address}}" }"""
            : $$"""{ "Address": "http://127.0.0.1:1/", "Health": "{{address}}" }""";

        var errors = await ValidateTextAsync($$"""
            { "ReverseProxy": {
                "Routes": { "r1": { "ClusterId": "c", "Match": { "Path": "/x" } } },
                "Clusters": { "c": { "Destinations": { "d": {{destination}} } } } } }
            """);

        AssertSingleError(errors, "ReverseProxy:Clusters:c:Destinations:d:" + field, expected);
    }

    [Theory]
    // Enum.TryParse reads "A, B" as the two members OR-ed together: a third member or none. "Host, Path" read the tenant
    // from a claim, "Meta, Telegram" verified Stripe signatures, "Local, Open" admitted every request in a Redis outage,
    // and "Stripe, Slack" named no scheme: the check passed it and the running edge refused it without a reason.
    [InlineData("""{ "EdgeTenant": "Host, Path", "Name": "tenant" }""", "", "ReverseProxy:Routes:r1:Transforms[0]:EdgeTenant", "unknown tenant source")]
    [InlineData("""{ "EdgeTenant": "Path,Static", "Value": "acme", "Segment": "0" }""", "", "ReverseProxy:Routes:r1:Transforms[0]:EdgeTenant", "unknown tenant source")]
    [InlineData("""{ "EdgeAuthenticate": "k" }, { "EdgeRequire": "orders.read", "Mode": "Any, All" }""",
        """ "Authentication": { "k": { "Type": "ApiKey", "Header": "X-Api-Key", "Keys": [ { "Sha256": "5856358efd838b03c993d5c3db192dc3826153f2daaaf69e8d58744fb8e5d808", "Principal": "p", "Roles": [ "R" ] } ] } }, "Roles": { "R": [ "orders.read" ] } """,
        "ReverseProxy:Routes:r1:Transforms[1]:Mode", "is not Any or All")]
    [InlineData("""{ "EdgeWebhook": "w" }""", """ "Webhooks": { "w": { "Scheme": "Stripe, Slack", "Secrets": [ "env:EDGE_TEST_TWO_NAMES_SECRET" ] } } """, "Edge:Webhooks:w:Scheme", "unknown scheme")]
    [InlineData("""{ "EdgeWebhook": "w" }""", """ "Webhooks": { "w": { "Scheme": "Meta, Telegram", "Secrets": [ "env:EDGE_TEST_TWO_NAMES_SECRET" ] } } """, "Edge:Webhooks:w:Scheme", "unknown scheme")]
    [InlineData("""{ "EdgeRateLimit": "p" }""", """ "RateLimits": { "p": { "Limit": 5, "Window": "00:01:00", "Key": "{ip}", "OnRedisUnavailable": "Local, Open" } } """, "Edge:RateLimits:p:OnRedisUnavailable", "is not valid")]
    [InlineData("""{ "EdgeRateLimit": "p" }""", """ "RateLimits": { "p": { "Algorithm": "TokenBucket, Gcra", "Limit": 5, "Window": "00:01:00", "Key": "{ip}" } } """, "Edge:RateLimits:p:Algorithm", "is not valid")]
    [InlineData("""{ "EdgeTenant": "Static", "Value": "acme" }""", """ "ThreatProtection": { "Rules": { "t": { "On": "AuthenticationFailed, SignatureInvalid", "Key": "{ip}", "Threshold": 5, "Window": "00:01:00", "BanFor": "00:01:00" } } } """, "Edge:ThreatProtection:Rules:t:On", "unknown event")]
    public async Task ValidateAsync_EdgeNameGivenAsTwoNames_ErrorAtItsLocation(string transform, string edge, string location, string expected)
    {
        Environment.SetEnvironmentVariable("EDGE_TEST_TWO_NAMES_SECRET", "a-webhook-secret-of-enough-length-0123456789");
        var errors = await ValidateTextAsync($$"""
            { "ReverseProxy": {
                "Routes": { "r1": { "ClusterId": "c", "Match": { "Path": "/x/{**rest}" }, "Transforms": [ {{transform}} ] } },
                "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } },
              "Edge": { {{edge}} } }
            """);

        AssertSingleError(errors, location, expected);
    }

    [Theory]
    // The check looked for "{" + RouteValue in the path: "ten" passed for /t/{tenant}/…, and every request of the route
    // was refused tenant_missing, since the router has no value "ten".
    [InlineData("/t/{tenant}/{**rest}", "ten", false)]
    [InlineData("/t/{tenant}/{**rest}", "t", false)]
    [InlineData("/t/{tenantId}/{**rest}", "tenant", false)]
    [InlineData("/t/{tenant}/{**rest}", "tenant", true)]
    [InlineData("/t/{Tenant}/{**rest}", "tenant", true)]
    [InlineData("/t/{tenant:regex(^[a-z]+$)}/{**rest}", "tenant", true)]
    [InlineData("/t/{tenant?}", "tenant", true)]
    [InlineData("/t/{**tenant}", "tenant", true)]
    public async Task ValidateAsync_TenantRouteValue_MustBeAParameterOfThePath(string path, string routeValue, bool accepted)
    {
        var errors = await ValidateOneRouteAsync(match: $$"""{ "Path": "{{path}}" }""", route: $$"""
            "Transforms": [ { "EdgeTenant": "Path", "RouteValue": "{{routeValue}}" } ]
            """);

        AssertAcceptedOrSingleError(errors, accepted, "ReverseProxy:Routes:r1:Transforms[0]:RouteValue", $"route value '{routeValue}' is not a parameter of the route's Match.Path");
    }

    [Theory]
    // The edge removes every client header under its identity prefix ('_' counting as '-') before any step runs, so a
    // tenant header named under it never reached the step: every request of the route was refused tenant_missing.
    [InlineData(null, "X-Edge-Customer")]
    [InlineData(null, "x_edge_customer")]
    [InlineData("X-Tenant-", "X-Tenant-ID")]
    [InlineData("X-Tenant-", "X_Tenant_ID")]
    public async Task ValidateAsync_TenantHeaderUnderTheIdentityPrefix_ErrorAtItsName(string? identityHeaderPrefix, string name)
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, $$"""
            { "ReverseProxy": {
                "Routes": { "r1": { "ClusterId": "c", "Match": { "Path": "/x" }, "Transforms": [ { "EdgeTenant": "Header", "Name": "{{name}}" } ] } },
                "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } },
              "Edge": { "Tenancy": { "ForwardHeader": "{{identityHeaderPrefix ?? "X-Edge-"}}Tenant-Out" } } }
            """);
        try
        {
            var errors = await ProxyConfigFileValidator.ValidateAsync(path, identityHeaderPrefix);

            AssertSingleError(errors, "ReverseProxy:Routes:r1:Transforms[0]:Name", "removed from every request");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(null, "X-Tenant-ID")]
    [InlineData(null, "X-Edgy-Tenant")]
    [InlineData("X-Tenant-", "X-Edge-Tenant")]
    public async Task ValidateAsync_TenantHeaderOutsideTheIdentityPrefix_Accepted(string? identityHeaderPrefix, string name)
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, $$"""
            { "ReverseProxy": {
                "Routes": { "r1": { "ClusterId": "c", "Match": { "Path": "/x" }, "Transforms": [ { "EdgeTenant": "Header", "Name": "{{name}}" } ] } },
                "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } },
              "Edge": { "Tenancy": { "ForwardHeader": "{{identityHeaderPrefix ?? "X-Edge-"}}Tenant-Out" } } }
            """);
        try
        {
            Assert.Empty(await ProxyConfigFileValidator.ValidateAsync(path, identityHeaderPrefix));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    // YARP binds PathPattern from the route's values; one the route's Match.Path does not have made the binding fail,
    // and every request of the route reached the backend as "/".
    [InlineData("/orders/{**rest}", "/api/{id}/{**rest}", false)]
    [InlineData("/orders/{order}", "/api/{orderId}", false)]
    [InlineData("/orders/{id}/{**rest}", "/api/{id}/{**rest}", true)]
    [InlineData("/orders/{ID}", "/api/{id}", true)]
    [InlineData("/orders/{**rest}", "/api/{**rest}", true)]
    [InlineData("/orders/{**rest}", "/api/{page?}", true)]
    [InlineData("/orders", "/api/static", true)]
    public async Task ValidateAsync_PathPatternValue_MustBeAParameterOfThePath(string path, string pathPattern, bool accepted)
    {
        var errors = await ValidateOneRouteAsync(match: $$"""{ "Path": "{{path}}" }""", route: $$"""
            "Transforms": [ { "PathPattern": "{{pathPattern}}" } ]
            """);

        AssertAcceptedOrSingleError(errors, accepted, "ReverseProxy:Routes:r1:Transforms[0]:PathPattern", "is not a parameter of the route's Match.Path");
    }

    [Theory]
    [InlineData("Domain", "shop.example")]
    [InlineData("Domain", ".shop.example")]
    [InlineData("Path", "/")]
    [InlineData("Path", "/shop/cart")]
    public async Task ValidateAsync_AffinityCookieDomainOrPath_Accepted(string field, string value)
    {
        var errors = await ValidateOneRouteAsync(cluster: $$"""
            "SessionAffinity": { "Enabled": true, "AffinityKeyName": "k", "Cookie": { "{{field}}": "{{value}}" } }
            """);

        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("http://127.0.0.1:1/app/")]
    [InlineData("http://[::1]:1/")]
    [InlineData("https://backend.internal/a%20b/")]
    public async Task ValidateAsync_DestinationAddressWithPath_Accepted(string address)
    {
        var errors = await ValidateTextAsync($$"""
            { "ReverseProxy": {
                "Routes": { "r1": { "ClusterId": "c", "Match": { "Path": "/x" } } },
                "Clusters": { "c": { "Destinations": { "d": { "Address": "{{address}}" } } } } } }
            """);

        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("""{ "MaxRequestBodySize": -5 }""", "MaxRequestBodySize", "is not a size")]
    [InlineData("""{ "Transforms": [ { "RequestHeader": "X A", "Set": "x" } ] }""", "Transforms[0]:RequestHeader", "not a header name")]
    [InlineData("""{ "Transforms": [ { "RequestHeaderRemove": "X:A" } ] }""", "Transforms[0]:RequestHeaderRemove", "not a header name")]
    [InlineData("""{ "Transforms": [ { "ResponseHeadersAllowed": "X-A;X B" } ] }""", "Transforms[0]:ResponseHeadersAllowed", "not a header name")]
    [InlineData("""{ "Transforms": [ { "X-Forwarded": "Set", "HeaderPrefix": "X F-" } ] }""", "Transforms[0]:HeaderPrefix", "not the start of a header name")]
    [InlineData("""{ "Transforms": [ { "ResponseHeader": "X-A", "Set": "a\nb" } ] }""", "Transforms[0]:Set", "control character")]
    [InlineData("""{ "Transforms": [ { "RequestHeader": "X-A", "Append": "a\u0000b" } ] }""", "Transforms[0]:Append", "control character")]
    [InlineData("""{ "Transforms": [ { "RequestHeader": "X-A", "Set": "é" } ] }""", "Transforms[0]:Set", "is not ASCII")]
    // HttpMethod's constructor throws when YARP builds the transform: the check passed it, a running edge refused it at
    // ReverseProxy with no route named.
    [InlineData("""{ "Transforms": [ { "HttpMethodChange": "GET", "Set": "BAD METHOD" } ] }""", "Transforms[0]:Set", "not an HTTP method")]
    [InlineData("""{ "Transforms": [ { "HttpMethodChange": "GE T", "Set": "POST" } ] }""", "Transforms[0]:HttpMethodChange", "not an HTTP method")]
    public async Task ValidateAsync_RouteSettingThatFailsEveryRequest_ReportsIt(string settings, string field, string expected)
    {
        var errors = await ValidateOneRouteAsync(route: settings.Trim()[1..^1]);

        AssertSingleError(errors, "ReverseProxy:Routes:r1:" + field, expected);
    }

    [Fact]
    public async Task ValidateAsync_NonAsciiRequestHeaderWithClusterEncoding_NoErrors()
    {
        var errors = await ValidateOneRouteAsync(
            route: """
                "MaxRequestBodySize": -1,
                "Transforms": [ { "RequestHeader": "X-A", "Set": "é" }, { "ResponseHeader": "X-B", "Append": "é" }, { "X-Forwarded": "Set", "HeaderPrefix": "X-Fwd-" } ]
                """,
            cluster: """ "HttpClient": { "RequestHeaderEncoding": "utf-8" } """);

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Fact]
    public async Task ValidateAsync_UnknownStepAndMissingCluster_ReportsBothWithLocations()
    {
        var errors = await ValidateTextAsync("""
        { "ReverseProxy": {
            "Routes": { "r1": { "ClusterId": "nope", "Match": { "Path": "/x" }, "Transforms": [ { "EdgeWarp": "9" } ] } },
            "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } } }
        """);

        Assert.Contains(errors, e => e.Location == "ReverseProxy:Routes:r1:ClusterId");
        Assert.Contains(errors, e => e.Location == "ReverseProxy:Routes:r1:Transforms[0]:EdgeWarp" && e.Message.Contains("unknown edge step", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ValidateAsync_UnknownStep_ReportedOnceAtItsTransform()
    {
        var errors = await ValidateTextAsync("""
        { "ReverseProxy": {
            "Routes": { "r1": { "ClusterId": "c", "Match": { "Path": "/x" }, "Transforms": [ { "EdgeWarp": "9" } ] } },
            "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } } }
        """);

        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.Equal("ReverseProxy:Routes:r1:Transforms[0]:EdgeWarp", error.Location);
    }

    [Theory]
    [InlineData("\"Limit\": \"lots\"", "Edge:RateLimits:p:Limit", "expected an integer")]
    [InlineData("\"Limit\": 5, \"Burst\": [ 5 ]", "Edge:RateLimits:p:Burst", "expected an integer")]
    [InlineData("\"Limit\": 5, \"Window\": 60", "Edge:RateLimits:p:Window", "expected a duration")]
    [InlineData("\"Limit\": 5, \"LocalShare\": \"half\"", "Edge:RateLimits:p:LocalShare", "expected a number")]
    public async Task ValidateAsync_WrongValueType_MessageSaysWhatIsExpectedNotTheDotNetType(string policy, string location, string expected)
    {
        var errors = await ValidateTextAsync($$"""
        { "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/x" } } }, "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } },
          "Edge": { "RateLimits": { "p": { {{policy}} } } } }
        """);

        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.Equal(location, error.Location);
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", error.Message, StringComparison.Ordinal);
        Assert.Contains("(line ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"RateLimits\": { \"p\": { \"Limit\": 5, \"Window\": \"1\" } }", "Edge:RateLimits:p:Window")]
    [InlineData("\"ThreatProtection\": { \"Rules\": { \"r\": { \"On\": \"Forbidden\", \"Key\": \"{ip}\", \"Threshold\": 5, \"BanFor\": \"30\" } } }", "Edge:ThreatProtection:Rules:r:BanFor")]
    [InlineData("\"ThreatProtection\": { \"Rules\": { \"r\": { \"On\": \"Forbidden\", \"Key\": \"{ip}\", \"Threshold\": 5, \"Window\": \"2.5\" } } }", "Edge:ThreatProtection:Rules:r:Window")]
    public async Task ValidateAsync_DurationAsBareNumber_IsATypeErrorNotDays(string section, string location)
    {
        // .NET reads "30" as 30 days: a ban rule's BanFor of "30", meant as seconds, banned every offender for a month.
        var errors = await ValidateTextAsync($$"""
        { "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/x" } } }, "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } },
          "Edge": { {{section}} } }
        """);

        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.Equal(location, error.Location);
        Assert.StartsWith("expected a duration such as \"00:01:00\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidateAsync_ClusterActivityTimeoutAsBareNumber_IsATypeError()
    {
        var errors = await ValidateOneRouteAsync(cluster: "\"HttpRequest\": { \"ActivityTimeout\": \"100\" }");

        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.StartsWith("ReverseProxy:Clusters:c", error.Location, StringComparison.Ordinal);
        Assert.StartsWith("expected a duration", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:01:00")]
    [InlineData("00:01")]
    [InlineData("1.00:00:00")]
    [InlineData("00:00:00.500")]
    public async Task ValidateAsync_DurationWithColons_Accepted(string window)
    {
        var errors = await ValidateTextAsync($$"""
        { "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/x" } } }, "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } },
          "Edge": { "RateLimits": { "p": { "Limit": 5, "Window": "{{window}}" } } } }
        """);

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Theory]
    [InlineData("\"Roles\": { \"admin\": { \"Permissions\": [ \"a\" ] } }", "Edge:Roles:admin", "expected an array")]
    [InlineData("\"RateLimits\": [ ]", "Edge:RateLimits", "expected an object")]
    public async Task ValidateAsync_WrongCollectionShape_MessageSaysArrayOrObjectNotTheDotNetType(string section, string location, string expected)
    {
        var errors = await ValidateTextAsync($$"""
        { "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/x" } } }, "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } },
          "Edge": { {{section}} } }
        """);

        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.Equal(location, error.Location);
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "r": null }""", "", "", "ReverseProxy:Routes:r", "'r' is null")]
    [InlineData("""{ "r": { "ClusterId": "c", "Match": { "Path": "/x" }, "Transforms": [ null ] } }""", "", "", "ReverseProxy:Routes:r:Transforms[0]", "null is not an entry")]
    [InlineData("""{ "r": { "ClusterId": "c", "Match": null } }""", "", "", "ReverseProxy:Routes:r:Match", "'Match' is null")]
    [InlineData("""{}""", """{ "c": null }""", "", "ReverseProxy:Clusters:c", "'c' is null")]
    [InlineData("""{}""", """{ "c": { "Destinations": { "d": null } } }""", "", "ReverseProxy:Clusters:c:Destinations:d", "'d' is null")]
    [InlineData("""{}""", "", """{ "Webhooks": { "w": null } }""", "Edge:Webhooks:w", "'w' is null")]
    [InlineData("""{}""", "", """{ "Authentication": { "a": null } }""", "Edge:Authentication:a", "'a' is null")]
    [InlineData("""{}""", "", """{ "Validation": { "v": null } }""", "Edge:Validation:v", "'v' is null")]
    [InlineData("""{}""", "", """{ "Roles": { "Admin": null } }""", "Edge:Roles:Admin", "'Admin' is null")]
    [InlineData("""{}""", "", """{ "Validation": { "v": { "Query": { "Parameters": { "q": null } } } } }""", "Edge:Validation:v:Query:Parameters:q", "'q' is null")]
    [InlineData("""{}""", "", """{ "Authentication": { "a": { "Type": "ApiKey", "Header": "X-Api-Key", "Keys": [ null ] } } }""", "Edge:Authentication:a:Keys[0]", "null is not an entry")]
    public async Task ValidateAsync_NullWhereAValueIsNeeded_ErrorAtItsLocation(string routes, string clusters, string edge, string location, string expected)
    {
        // Before: each of these made a check throw NullReferenceException, refused at "proxy.json" as a bug in the edge.
        var errors = await ValidateTextAsync($$"""
            { "ReverseProxy": { "Routes": {{routes}}, "Clusters": {{(clusters.Length == 0 ? """{ "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } }""" : clusters)}} }, "Edge": {{(edge.Length == 0 ? "{}" : edge)}} }
            """);

        AssertSingleError(errors, location, expected);
    }

    [Theory]
    [InlineData("""{ "Path": "/a/{**rest}" }""", true)]
    [InlineData("""{ "Path": "/A/{**other}/" }""", true)]
    [InlineData("""{ "Path": "/a/{**rest}", "Methods": [ "GET" ] }, "Order": 0""", false)]
    [InlineData("""{ "Path": "/a/{**rest}" }, "Order": -1""", false)]
    [InlineData("""{ "Path": "/a/{**rest}", "Hosts": [ "x.example" ] }""", false)]
    [InlineData("""{ "Path": "/a/{**rest}", "Headers": [ { "Name": "X-V", "Values": [ "2" ] } ] }""", false)]
    [InlineData("""{ "Path": "/a/{rest:int}" }""", false)]
    public async Task ValidateAsync_SecondRouteMatchingAlike_RefusedOnlyWhenTheMatcherCannotRankThem(string match, bool refused)
    {
        // Each "refused" case answered every shared request with 500 edge_routing_error (AmbiguousMatchException); each
        // other one was served by one route, as checked on a running edge.
        var errors = await ValidateTextAsync($$"""
            { "ReverseProxy": {
                "Routes": { "a": { "ClusterId": "c", "Match": { "Path": "/a/{**rest}" } }, "b": { "ClusterId": "c", "Match": {{match}} } },
                "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } } }
            """);

        if (refused)
        {
            AssertSingleError(errors, "ReverseProxy:Routes:b:Match", "matches the same requests as route 'a'");
        }
        else
        {
            Assert.DoesNotContain(errors, e => !e.IsWarning);
        }
    }

    [Fact]
    public async Task ValidateAsync_RoutesOnSamePathWithOverlappingMethods_Refused()
    {
        var errors = await ValidateTextAsync("""
            { "ReverseProxy": {
                "Routes": { "a": { "ClusterId": "c", "Match": { "Path": "/a", "Methods": [ "GET", "POST" ] } },
                            "b": { "ClusterId": "c", "Match": { "Path": "/a", "Methods": [ "post" ] } },
                            "c": { "ClusterId": "c", "Match": { "Path": "/a", "Methods": [ "DELETE" ] } } },
                "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } } }
            """);

        AssertSingleError(errors, "ReverseProxy:Routes:b:Match", "matches the same requests as route 'a'");
    }

    [Fact]
    public async Task ValidateAsync_RouteTimeout_RefusedWithTheClusterSettingToUse()
    {
        // Before: accepted, and every request on the route answered 500 (YARP: "ensure UseRequestTimeouts() is called").
        var errors = await ValidateOneRouteAsync(route: """ "Timeout": "00:00:30" """);

        AssertSingleError(errors, "ReverseProxy:Routes:r1:Timeout", "route timeouts are not supported by the edge; bound a slow backend with its cluster's HttpRequest:ActivityTimeout");
    }

    [Theory]
    [InlineData("AuthorizationPolicy", "Default", "ASP.NET Core authorization policies are not supported by the edge")]
    [InlineData("CorsPolicy", "Default", "CORS policies are not supported by the edge")]
    [InlineData("CorsPolicy", "disable", "CORS policies are not supported by the edge")]
    public async Task ValidateAsync_RoutePolicyWhoseMiddlewareTheEdgeDoesNotRun_Refused(string field, string value, string expected)
    {
        // Before: accepted, and every request on the route answered 500 ("contains … metadata, but a middleware was not found").
        var errors = await ValidateOneRouteAsync(route: $$""" "{{field}}": "{{value}}" """);

        AssertSingleError(errors, "ReverseProxy:Routes:r1:" + field, expected);
    }

    [Fact]
    public async Task ValidateAsync_RouteAuthorizationPolicyAnonymous_Accepted()
    {
        var errors = await ValidateOneRouteAsync(route: """ "AuthorizationPolicy": "Anonymous" """);

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Fact]
    public async Task ValidateAsync_RouteTimeoutPolicyDisable_Accepted()
    {
        var errors = await ValidateOneRouteAsync(route: """ "TimeoutPolicy": "Disable" """);

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Theory]
    [InlineData("ResponseHeaderEncoding", "utf-7")]
    [InlineData("RequestHeaderEncoding", "utf-7")]
    [InlineData("RequestHeaderEncoding", "no-such-encoding")]
    public async Task ValidateAsync_HeaderEncodingTheRuntimeRefuses_ErrorAtTheSetting(string field, string value)
    {
        // Before, for utf-7: YARP's validator threw NotSupportedException, refused at "proxy.json" as a bug in the edge.
        var errors = await ValidateOneRouteAsync(cluster: $$""" "HttpClient": { "{{field}}": "{{value}}" } """);

        AssertSingleError(errors, "ReverseProxy:Clusters:c:HttpClient:" + field, $"'{value}' is not an encoding the edge can use");
    }

    [Theory]
    [InlineData(""" "LoadBalancingPolicy": "RoundRobbin" """, "LoadBalancingPolicy", "'RoundRobbin' is not a load-balancing policy; did you mean 'RoundRobin'? (known: FirstAlphabetical, LeastRequests, PowerOfTwoChoices, Random, RoundRobin)")]
    [InlineData(""" "SessionAffinity": { "Enabled": true, "Policy": "Cookies", "AffinityKeyName": "a" } """, "SessionAffinity:Policy", "'Cookies' is not a session affinity policy; did you mean 'Cookie'? (known: ")]
    [InlineData(""" "SessionAffinity": { "Enabled": true, "FailurePolicy": "Redistrbute", "AffinityKeyName": "a" } """, "SessionAffinity:FailurePolicy", "'Redistrbute' is not an affinity failure policy; did you mean 'Redistribute'? (known: ")]
    [InlineData(""" "HealthCheck": { "Active": { "Enabled": true, "Policy": "ConsecutiveFailure" } } """, "HealthCheck:Active:Policy", "'ConsecutiveFailure' is not an active health check policy; did you mean 'ConsecutiveFailures'? (known: ")]
    [InlineData(""" "HealthCheck": { "Passive": { "Enabled": true, "Policy": "Whatever" } } """, "HealthCheck:Passive:Policy", "'Whatever' is not a passive health check policy (known: ")]
    [InlineData(""" "HealthCheck": { "AvailableDestinationsPolicy": "HealthyOrPanik" } """, "HealthCheck:AvailableDestinationsPolicy", "'HealthyOrPanik' is not an available destinations policy; did you mean 'HealthyOrPanic'? (known: ")]
    public async Task ValidateAsync_UnknownClusterPolicyName_ErrorAtTheSettingWithTheNames(string cluster, string field, string expected)
    {
        // Before: YARP's "No matching ILoadBalancingPolicy found for the load balancing policy 'RoundRobbin' set on the
        // cluster 'c'." at the cluster, naming an interface instead of the setting and none of the names it takes.
        var errors = await ValidateOneRouteAsync(cluster: cluster);

        AssertSingleError(errors, "ReverseProxy:Clusters:c:" + field, expected);
    }

    [Fact]
    public async Task ValidateAsync_ClusterPolicyNamesInAnotherCase_Accepted()
    {
        // YARP looks the names up case-insensitively; so does the check.
        var errors = await ValidateOneRouteAsync(cluster: """ "LoadBalancingPolicy": "roundrobin", "HealthCheck": { "Active": { "Enabled": true, "Policy": "consecutivefailures" } } """);

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Theory]
    [InlineData("""{ "EdgeValidate": "order-creat" }""", "EdgeValidate", "validation policy 'order-creat' is not defined in Edge:Validation; defined: order-create")]
    [InlineData("""{ "EdgeWebhook": "gh" }""", "EdgeWebhook", "webhook policy 'gh' is not defined in Edge:Webhooks; defined: github")]
    [InlineData("""{ "EdgeApproval": "payment" }""", "EdgeApproval", "approval policy 'payment' is not defined in Edge:Approvals; defined: payments")]
    [InlineData("""{ "EdgeAuthenticate": "keys" }""", "EdgeAuthenticate", "authentication policy 'keys' is not defined in Edge:Authentication; defined: partner-keys (or use 'Anonymous')")]
    public async Task ValidateAsync_StepNamesMissingPolicy_ListsTheDefinedOnes(string step, string field, string expected)
    {
        // As EdgeRateLimit's did already: a typo ("order-creat") is seen at once next to the names that exist.
        var errors = await ValidateTextAsync($$"""
            { "ReverseProxy": {
                "Routes": { "r1": { "ClusterId": "c", "Match": { "Path": "/x" }, "Transforms": [ {{step}} ] } },
                "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } },
              "Edge": {
                "Validation": { "order-create": { "MaxBodyBytes": 1000 } },
                "Webhooks": { "github": { "Scheme": "GitHub", "Secrets": [ "env:EDGE_TEST_SURELY_NOT_SET_7e2a" ] } },
                "Approvals": { "payments": { "ApproverPermission": "p", "Authentication": "partner-keys" } },
                "Authentication": { "partner-keys": { "Type": "ApiKey", "Keys": [ { "Sha256": "{{new string('a', 64)}}", "Principal": "a" } ] } },
                "Roles": { "R": [ "p" ] } } }
            """);

        Assert.Contains(errors, e => e.Location == "ReverseProxy:Routes:r1:Transforms[0]:" + field && e.Message == expected);
    }

    [Fact]
    public async Task ValidateAsync_RouteNamesMissingCluster_ListsTheDefinedOnes()
    {
        var errors = await ValidateTextAsync("""
            { "ReverseProxy": {
                "Routes": { "r1": { "ClusterId": "legacy-order", "Match": { "Path": "/x" } } },
                "Clusters": { "legacy-orders": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } } }
            """);

        AssertSingleError(errors, "ReverseProxy:Routes:r1:ClusterId", "cluster 'legacy-order' is not defined in ReverseProxy:Clusters; defined: legacy-orders");
    }

    [Fact]
    public async Task ValidateAsync_MisspeltStep_NamesTheClosestStep()
    {
        var errors = await ValidateOneRouteAsync(route: """ "Transforms": [ { "EdgeRatelimt": "p" } ] """);

        AssertSingleError(errors, "ReverseProxy:Routes:r1:Transforms[0]:EdgeRatelimt", "unknown edge step 'EdgeRatelimt'; did you mean 'EdgeRateLimit'?");
    }

    [Fact]
    public async Task ValidateAsync_StepNameNotTheFirstKey_SaysItMustBeFirst()
    {
        // Before: only YARP's "Unknown transform: Name;EdgeTenant" at the route.
        var errors = await ValidateOneRouteAsync(route: """ "Transforms": [ { "Name": "X-Tenant-ID", "EdgeTenant": "Header" } ] """);

        Assert.Contains(errors, e => e.Location == "ReverseProxy:Routes:r1:Transforms[0]:EdgeTenant"
            && e.Message.StartsWith("'EdgeTenant' must be the first key of its entry", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("EdgeRateLimit", "per-tenant")]
    [InlineData("EdgeAuthenticate", "corp-jwt")]
    [InlineData("edgerequire", "orders.write")]
    public async Task ValidateAsync_StepNamedInRouteMetadata_ErrorSaysItBelongsInTransforms(string key, string value)
    {
        // Before: valid, and the route served with no such step: metadata is free-form to YARP, so a step written there
        // (a common slip, since EdgeAudit does belong there) protected nothing and nothing said so.
        var errors = await ValidateOneRouteAsync(route: $$""" "Metadata": { "{{key}}": "{{value}}" } """);

        AssertSingleError(errors, $"ReverseProxy:Routes:r1:Metadata:{key}", $"'{key}' is an edge step, not route metadata: as metadata it does nothing; list it in the route's Transforms");
    }

    [Theory]
    [InlineData("EdgeAudits", "did you mean 'EdgeAudit'?")]
    [InlineData("EdgeAllowTrac", "did you mean 'EdgeAllowTrace'?")]
    public async Task ValidateAsync_UnknownEdgeMetadataKey_WarnsWithTheClosestKnownKey(string key, string expected)
    {
        var errors = await ValidateOneRouteAsync(route: $$""" "Metadata": { "{{key}}": "true" } """);

        Assert.DoesNotContain(errors, e => !e.IsWarning);
        var warning = Assert.Single(errors, e => e.Location == $"ReverseProxy:Routes:r1:Metadata:{key}");
        Assert.True(warning.IsWarning);
        Assert.Contains(expected, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidateAsync_KnownAndForeignMetadataKeys_NoFinding()
    {
        var errors = await ValidateOneRouteAsync(route: """ "Metadata": { "EdgeAudit": "Optional", "EdgeAllowTrace": "false", "team": "payments" } """);

        Assert.DoesNotContain(errors, e => e.Location.Contains(":Metadata", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ValidateAsync_NullForAnOptionalMember_MeansAbsent()
    {
        var errors = await ValidateOneRouteAsync(route: """ "Metadata": null, "Transforms": null """, cluster: """ "HealthCheck": null, "HttpRequest": null """);

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Theory]
    // Before: at "ReverseProxy:Routes:r1" only, which left the operator to find the entry among the route's transforms.
    [InlineData("""{ "PathPrefx": "/v1" }""", "Unknown transform: PathPrefx")]
    [InlineData("""{ "PathPrefix": "/v1", "Extra": "x" }""", "more parameters than expected")]
    [InlineData("""{ "X-Forwarded": "Sett" }""", "Unexpected value for X-Forwarded: Sett")]
    public async Task ValidateAsync_YarpTransformItRefuses_ReportedAtThatTransform(string transform, string expected)
    {
        var errors = await ValidateOneRouteAsync(route: $$"""
            "Transforms": [ { "EdgeTenant": "Static", "Value": "acme" }, { "PathRemovePrefix": "/api" }, {{transform}} ]
            """);

        AssertSingleError(errors, "ReverseProxy:Routes:r1:Transforms[2]", expected);
    }

    [Theory]
    // Before: no word, and every request of the route answered 503 once the edit was applied.
    [InlineData(""" "Destinations": {} """)]
    [InlineData(""" "Destinations": null """)]
    [InlineData("")]
    public async Task ValidateAsync_ClusterWithoutDestinationsThatARouteUses_WarnsNamingTheRoutes(string destinations)
    {
        var errors = await ValidateTextAsync($$"""
            { "ReverseProxy": {
                "Routes": { "r1": { "ClusterId": "empty", "Match": { "Path": "/x" } }, "r2": { "ClusterId": "EMPTY", "Match": { "Path": "/y" } },
                            "r3": { "ClusterId": "c", "Match": { "Path": "/z" } } },
                "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } }, "empty": { {{destinations}} },
                              "unused": { "Destinations": {} } } } }
            """);

        var warning = Assert.Single(errors);
        Assert.True(warning.IsWarning);
        Assert.Equal("ReverseProxy:Clusters:empty:Destinations", warning.Location);
        Assert.Equal("the cluster has no destinations: every request of route r1, r2 answers 503", warning.Message);
    }

    [Theory]
    [InlineData("\"Routes\": {}, ")]
    [InlineData("\"Routes\": null, ")]
    [InlineData("")]
    public async Task ValidateAsync_NoRoutes_RefusedAsTheEdgeRefusesItAtStartAndOnReload(string routes)
    {
        // Before, a warning and exit 0: a starting edge served the file and a running one refused it on reload.
        var errors = await ValidateTextAsync($$"""
            { "ReverseProxy": { {{routes}}"Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } } }
            """);

        var error = Assert.Single(errors);
        Assert.False(error.IsWarning);
        Assert.Equal("ReverseProxy:Routes", error.Location);
        Assert.StartsWith("no routes: an edge without routes answers every request with 404", error.Message, StringComparison.Ordinal);
    }

    /// <summary>One route r1 on one cluster c with one destination d; each argument adds members to that object.</summary>
    private static Task<IReadOnlyList<ConfigError>> ValidateOneRouteAsync(
        string match = """{ "Path": "/x" }""", string route = "", string cluster = "", string destination = "", Action<IServiceCollection>? configureServices = null)
    {
        static string More(string members) => string.IsNullOrWhiteSpace(members) ? "" : ", " + members;
        return ValidateTextAsync($$"""
            { "ReverseProxy": {
                "Routes": { "r1": { "ClusterId": "c", "Match": {{match}}{{More(route)}} } },
                "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/"{{More(destination)}} } }{{More(cluster)}} } } } }
            """, configureServices);
    }

    private static void AssertSingleError(IReadOnlyList<ConfigError> errors, string location, string expected)
    {
        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.Equal(location, error.Location);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private static void AssertAcceptedOrSingleError(IReadOnlyList<ConfigError> errors, bool accepted, string location, string expected)
    {
        if (accepted)
        {
            Assert.Empty(errors);
        }
        else
        {
            AssertSingleError(errors, location, expected);
        }
    }

    private static async Task<IReadOnlyList<ConfigError>> ValidateTextAsync(string json, Action<IServiceCollection>? configureServices = null)
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, json);
        try
        {
            return await ProxyConfigFileValidator.ValidateAsync(path, identityHeaderPrefix: null, configureServices);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void LoadSampleEnvironment(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        foreach (var line in File.ReadAllLines(path))
        {
            var trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#') || !trimmed.Contains('='))
            {
                continue;
            }

            var index = trimmed.IndexOf('=');
            var name = trimmed[..index].Trim();
            if (Environment.GetEnvironmentVariable(name) is null)
            {
                Environment.SetEnvironmentVariable(name, trimmed[(index + 1)..].Trim().Trim('"'));
            }
        }
    }

    private sealed class ThrowingRouteValidator : IEdgeRouteValidator
    {
        public const string Message = "a route validator failed";

        public void Validate(RouteConfig route, EdgeSection edge, ConfigErrorList errors) => throw new InvalidOperationException(Message);

        public RouteConfig ForYarp(RouteConfig route) => route;
    }
}
