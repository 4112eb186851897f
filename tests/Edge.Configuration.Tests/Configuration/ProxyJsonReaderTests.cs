using System.Text;
using Edge.Configuration;
using Edge.Configuration.Authorization;
using Edge.Configuration.Tenancy;

namespace Edge.Configuration.Tests.Configuration;

public sealed class ProxyJsonReaderTests
{
    // A capability outside the library, registered the way Edge.Proxy registers Edge:RateLimits.
    private static readonly EdgeSectionDescriptor<IReadOnlyDictionary<string, LimitOptions>> Limits =
        new("RateLimits", new Dictionary<string, LimitOptions>());

    private static readonly ProxyJsonReader Reader =
        new([TenancySection.Descriptor, Limits, AuthorizationSections.Authentication, AuthorizationSections.Roles]);

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

        var parsed = Reader.Parse(Encoding.UTF8.GetBytes(json), errors);

        Assert.NotNull(parsed);
        Assert.False(errors.HasErrors);
        var route = Assert.Single(parsed.Routes);
        Assert.Equal("orders", route.RouteId);
        Assert.Equal("true", route.Transforms![0]["Required"]);
        Assert.Equal("EdgeTenant", route.Transforms[0].Keys.First());
        Assert.Equal("legacy", Assert.Single(parsed.Clusters).ClusterId);
        Assert.Equal(100, parsed.Edge.Get(Limits)["per-tenant"].Limit);
        Assert.Equal(["orders.read"], parsed.Edge.Roles["Viewer"]);
    }

    [Theory]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"ClusterId\": \"c\", \"Matsh\": {} } } } }", "Matsh")]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"ClusterId\": 5 ", "line")]
    [InlineData("{ \"Edge\": {} }", "ReverseProxy")]
    [InlineData("   \n", "empty")]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": [] } }", "ReverseProxy:Routes expected an object (line 1")]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"r\": { \"ClusterId\": \"c\", \"Transforms\": { } } } } }", "Transforms expected an array")]
    public void Parse_BadDocument_PreciseError(string json, string expectedFragment)
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(Encoding.UTF8.GetBytes(json), errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Contains(expectedFragment, error.Location + " " + error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(0.99)]
    [InlineData(0.9)]
    [InlineData(0.5)]
    [InlineData(0.1)]
    public void Parse_FileCutOff_SaysTheFileEndsEarlyNotThatItsLastSectionIsWrong(double kept)
    {
        var json = """
        {
          "ReverseProxy": {
            "Routes": { "orders": { "ClusterId": "legacy", "Match": { "Path": "/orders/{**rest}" } } },
            "Clusters": { "legacy": { "Destinations": { "d1": { "Address": "http://127.0.0.1:9001/" } } } }
          },
          "Edge": { "Roles": { "Viewer": [ "orders.read" ] } }
        }
        """;
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(Encoding.UTF8.GetBytes(json[..(int)(json.Length * kept)]), errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Items);
        Assert.Equal("proxy.json", error.Location);
        Assert.StartsWith("the file ends before its JSON does", error.Message, StringComparison.Ordinal);
        Assert.Contains("(line ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TextAfterTheDocument_IsNotReportedAsACutOffFile()
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse("{ \"ReverseProxy\": {} } }"u8, errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Items);
        Assert.DoesNotContain("the file ends before", error.Message, StringComparison.Ordinal);
        Assert.Contains("(line 1, byte", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0xFF }, 4)]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, 4)]
    [InlineData(new byte[] { (byte)'\\', (byte)'u', (byte)'d', (byte)'8', (byte)'0', (byte)'0' }, 4)]
    public void Parse_TextThatIsNotUtf8_SaysSoWithItsLine(byte[] text, int line)
    {
        // Before: "expected an object" at the transform, as if the value had the wrong type.
        byte[] json = [.. "{ \"ReverseProxy\": { \"Routes\": { \"r\": { \"ClusterId\": \"c\",\n \"Transforms\": [\n  { \"EdgeTenant\": \"Header\",\n    \"Name\": \"X-"u8, .. text, .. "\" } ] } } } }"u8];
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(json, errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("proxy.json", error.Location);
        Assert.Contains("not valid UTF-8", error.Message, StringComparison.Ordinal);
        Assert.Contains($"(line {line}, byte 13)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnpairedSurrogateInAnId_SaysSo()
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse("""{ "ReverseProxy": { "Routes": { "r\udc00": { "ClusterId": "c" } } } }"""u8, errors);

        Assert.Null(parsed);
        Assert.Contains("not valid UTF-8", Assert.Single(errors.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PairedSurrogateEscapeAndCommentsAndTrailingCommas_AreFine()
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse("""{ "ReverseProxy": { /* c */ "Routes": { "r\ud83d\ude00": { "ClusterId": "c", }, }, }, }"""u8, errors);

        Assert.False(errors.HasErrors, string.Join("; ", errors.Errors.Select(e => e.Message)));
        Assert.Equal("r\U0001F600", Assert.Single(parsed!.Routes).RouteId);
    }

    [Fact]
    public void Parse_UnregisteredSection_IsUnknownPropertyError()
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse("""{ "ReverseProxy": {}, "Edge": { "Webhooks": {} } }"""u8, errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("Edge:Webhooks", error.Location);
        Assert.StartsWith("unknown property 'Webhooks' (known here: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".NET", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Redis", "Redis")]
    [InlineData("managementUrls", "ManagementUrls")]
    [InlineData("Audit", "Audit")]
    public void Parse_HostSettingInEdgeSection_SaysWhereItBelongs(string written, string setting)
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(Encoding.UTF8.GetBytes($$"""{ "ReverseProxy": {}, "Edge": { "{{written}}": "127.0.0.1:6379" } }"""), errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal($"Edge:{written}", error.Location);
        Assert.Contains($"Edge:{setting} is a host setting, not part of proxy.json", error.Message, StringComparison.Ordinal);
        Assert.Contains($"--Edge:{setting}=", error.Message, StringComparison.Ordinal);
        Assert.Contains($"Edge__{setting}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Routes")]
    [InlineData("clusters")]
    public void Parse_RoutesOrClustersAtTheTop_SaysTheyGoInsideReverseProxy(string written)
    {
        // Before: "unknown property 'Routes' (known here: Edge, ReverseProxy)", to someone who left out the wrapper.
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(Encoding.UTF8.GetBytes($$"""{ "{{written}}": {} }"""), errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal(written, error.Location);
        Assert.StartsWith($"unknown property '{written}': it goes inside ReverseProxy", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EdgeSectionAtTheTop_SaysItGoesInsideEdge()
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse("""{ "ReverseProxy": {}, "RateLimits": {} }"""u8, errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("RateLimits", error.Location);
        Assert.StartsWith("unknown property 'RateLimits': it goes inside Edge", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MisspeltPolicyOption_SuggestsTheClosestName()
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse("""{ "ReverseProxy": {}, "Edge": { "RateLimits": { "p": { "Limt": 5 } } } }"""u8, errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.StartsWith("unknown property 'Limt'; did you mean 'Limit'? (known here: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("Window", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownRouteMember_NamesTheRouteOptions()
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse("""{ "ReverseProxy": { "Routes": { "r": { "ClusterID": "c", "Mach": { "Path": "/x" } } } } }"""u8, errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Routes:r:Mach", error.Location);
        Assert.StartsWith("unknown property 'Mach'; did you mean 'Match'?", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownPropertyInsideRegisteredSection_ReportsFullPathAndLine()
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse("{ \"ReverseProxy\": {},\n \"Edge\": { \"RateLimits\": { \"p\": { \"Limt\": 5 } } } }"u8, errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("Edge:RateLimits:p:Limt", error.Location);
        Assert.Contains("(line 2,", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    // A number that names no member was taken as that number: VersionPolicy 9 failed every request of the cluster with
    // 502, a header Mode of 77 made the route match nothing (404), SameSite 9 dropped the attribute without a word.
    [InlineData("""{ "HttpRequest": { "VersionPolicy": 9 } }""", "HttpRequest:VersionPolicy", "RequestVersionOrLower, RequestVersionOrHigher, RequestVersionExact")]
    [InlineData("""{ "HttpRequest": { "VersionPolicy": 0 } }""", "HttpRequest:VersionPolicy", "RequestVersionOrLower, RequestVersionOrHigher, RequestVersionExact")]
    [InlineData("""{ "HttpRequest": { "VersionPolicy": "2" } }""", "HttpRequest:VersionPolicy", "RequestVersionOrLower, RequestVersionOrHigher, RequestVersionExact")]
    [InlineData("""{ "SessionAffinity": { "Enabled": true, "AffinityKeyName": "k", "Cookie": { "SameSite": 9 } } }""", "SessionAffinity:Cookie:SameSite", "None, Lax, Strict, Unspecified")]
    [InlineData("""{ "HttpClient": { "SslProtocols": 7 } }""", "HttpClient:SslProtocols", "Tls12")]
    public void Parse_ClusterEnumGivenAsNumber_IsErrorNamingTheMembers(string clusterSettings, string member, string members)
    {
        var json = $$"""{ "ReverseProxy": { "Clusters": { "c": { "Destinations": { "d1": { "Address": "http://127.0.0.1:9001/" } }, {{clusterSettings[1..^1]}} } } } }""";
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(Encoding.UTF8.GetBytes(json), errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Clusters:c:" + member, error.Location);
        Assert.StartsWith("expected one of ", error.Message, StringComparison.Ordinal);
        Assert.Contains(members, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("77")]
    [InlineData("\"Exactly\"")]
    public void Parse_HeaderMatchModeNotAMember_IsErrorNamingTheModes(string mode)
    {
        var json = $$"""{ "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/x", "Headers": [ { "Name": "X-A", "Mode": {{mode}}, "Values": [ "x" ] } ] } } } } }""";
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(Encoding.UTF8.GetBytes(json), errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Routes:r:Match:Headers[0]:Mode", error.Location);
        Assert.StartsWith("expected one of ExactHeader, HeaderPrefix, Contains, NotContains, Exists, NotExists", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    // The converter read "A, B" as the two members OR-ed together, which is a third member or none: "HeaderPrefix,
    // Contains" is NotContains (the route matched exactly the requests without the value), "RequestVersionOrLower,
    // RequestVersionOrHigher" is RequestVersionOrHigher.
    [InlineData("""{ "Path": "/x", "Headers": [ { "Name": "X-A", "Mode": "HeaderPrefix, Contains", "Values": [ "x" ] } ] }""", "Match:Headers[0]:Mode", "ExactHeader, HeaderPrefix")]
    [InlineData("""{ "Path": "/x", "QueryParameters": [ { "Name": "a", "Mode": "Exact,Contains", "Values": [ "x" ] } ] }""", "Match:QueryParameters[0]:Mode", "Exact, Contains")]
    public void Parse_RouteEnumGivenAsTwoNames_IsErrorNamingTheMembers(string match, string member, string members)
    {
        var json = $$"""{ "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": {{match}} } } } }""";
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(Encoding.UTF8.GetBytes(json), errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Routes:r:" + member, error.Location);
        Assert.StartsWith("expected one of ", error.Message, StringComparison.Ordinal);
        Assert.Contains(members, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ClusterEnumGivenAsTwoNames_IsErrorButFlagsTakeSeveral()
    {
        var json = """
            { "ReverseProxy": { "Clusters": { "c": { "Destinations": { "d1": { "Address": "http://127.0.0.1:9001/" } },
              "HttpRequest": { "VersionPolicy": "RequestVersionOrLower, RequestVersionOrHigher" }, "HttpClient": { "SslProtocols": "Tls12, Tls13" } } } } }
            """;
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(Encoding.UTF8.GetBytes(json), errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Clusters:c:HttpRequest:VersionPolicy", error.Location);
        Assert.StartsWith("expected one of RequestVersionOrLower, RequestVersionOrHigher, RequestVersionExact", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EnumsWrittenByName_AreRead()
    {
        var json = """
        { "ReverseProxy": {
            "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/x", "Headers": [ { "Name": "X-A", "Mode": "exists" } ] } } },
            "Clusters": { "c": { "Destinations": { "d1": { "Address": "http://127.0.0.1:9001/" } },
              "HttpRequest": { "VersionPolicy": "RequestVersionExact" }, "HttpClient": { "SslProtocols": "Tls12, Tls13" } } } } }
        """;
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(Encoding.UTF8.GetBytes(json), errors);

        Assert.Empty(errors.Errors);
        Assert.NotNull(parsed);
        var cluster = Assert.Single(parsed.Clusters);
        Assert.Equal(System.Net.Http.HttpVersionPolicy.RequestVersionExact, cluster.HttpRequest!.VersionPolicy);
        Assert.Equal(System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13, cluster.HttpClient!.SslProtocols);
        Assert.Equal(Yarp.ReverseProxy.Configuration.HeaderMatchMode.Exists, Assert.Single(parsed.Routes).Match.Headers![0].Mode);
    }

    [Theory]
    [InlineData("utf-16")]
    [InlineData("utf-16BE")]
    [InlineData("utf-16LE")]
    public void Parse_FileSavedAsUtf16_SaysToSaveItAsUtf8(string encoding)
    {
        // Before: "'0xFF' is an invalid start of a value" (or '0x00' further on), naming neither the encoding nor the fix.
        var text = Encoding.GetEncoding(encoding);
        byte[] json = [.. (encoding == "utf-16" ? text.GetPreamble() : []), .. text.GetBytes("""{ "ReverseProxy": { "Routes": {} } }""")];
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(json, errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("proxy.json", error.Location);
        Assert.StartsWith("the file is saved as UTF-16 (or UTF-32), not UTF-8; save it as UTF-8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DestinationNamesDifferingOnlyInCase_ErrorAtTheSecond()
    {
        // Before: accepted, and YARP kept only "D1": the address of "d1" never received a request.
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse("""
            { "ReverseProxy": { "Clusters": { "c": { "Destinations": {
                "d1": { "Address": "http://10.0.0.1/" }, "D1": { "Address": "http://10.0.0.2/" }, "d2": { "Address": "http://10.0.0.3/" } } } } } }
            """u8, errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Clusters:c:Destinations:D1", error.Location);
        Assert.Contains("'d1' is already defined", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SectionAbsentOrNull_ReadsItsDefault()
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse("""{ "ReverseProxy": {}, "Edge": { "Roles": null } }"""u8, errors);

        Assert.NotNull(parsed);
        Assert.Empty(parsed.Edge.Roles);
        Assert.Same(Limits.Default, parsed.Edge.Get(Limits));
        Assert.Equal("X-Edge-Tenant", parsed.Edge.Get(TenancySection.Descriptor).ForwardHeader);
    }

    [Fact]
    public void Parse_SectionNamesAreCaseInsensitive_LikeEveryOtherProperty()
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse("""{ "ReverseProxy": {}, "edge": { "roles": { "Viewer": [ "a.read" ] } } }"""u8, errors);

        Assert.NotNull(parsed);
        Assert.Equal(["a.read"], parsed.Edge.Roles["Viewer"]);
    }

    [Fact]
    public void ForSections_OtherHostsSections_AreSkippedNotRefused()
    {
        var reader = ProxyJsonReader.ForSections(AuthorizationSections.Roles);
        var errors = new ConfigErrorList();

        var parsed = reader.Parse("""{ "ReverseProxy": {}, "Edge": { "RateLimits": { "p": { "Anything": 1 } }, "Roles": { "R": [ "x" ] } } }"""u8, errors);

        Assert.NotNull(parsed);
        Assert.False(errors.HasErrors);
        Assert.Equal(["x"], parsed.Edge.Roles["R"]);
    }

    [Fact]
    public void With_ReplacesOneSection_LeavesOriginalUnchanged()
    {
        var roles = new Dictionary<string, IReadOnlyList<string>> { ["R"] = ["x"] };

        var edge = EdgeSection.Empty.With(AuthorizationSections.Roles, roles);

        Assert.Same(roles, edge.Roles);
        Assert.Empty(EdgeSection.Empty.Roles);
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

        Reader.Parse(Encoding.UTF8.GetBytes(json), errors);

        var error = Assert.Single(errors.Errors);
        Assert.StartsWith(expectedPrefix, error.Location, StringComparison.Ordinal);
        Assert.DoesNotContain("$", error.Location + error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Utf8ByteOrderMark_ReadsLikeWithout()
    {
        var json = "{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"ClusterId\": \"c\", \"Match\": { \"Path\": \"/a\" } } } } }";
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse([.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(json)], errors);

        Assert.False(errors.HasErrors, string.Join("; ", errors.Errors));
        Assert.Equal("a", Assert.Single(parsed!.Routes).RouteId);
    }

    [Theory]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"ClusterId\": \"c\" }, \"a\": { \"ClusterId\": \"d\" } } } }", "ReverseProxy:Routes:a")]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"ClusterId\": \"c\" }, \"A\": { \"ClusterId\": \"d\" } } } }", "ReverseProxy:Routes:A")]
    [InlineData("{ \"ReverseProxy\": { \"Clusters\": { \"c\": {}, \"C\": {} } } }", "ReverseProxy:Clusters:C")]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"ClusterId\": \"c\", \"ClusterId\": \"d\" } } } }", "ReverseProxy:Routes:a:ClusterId")]
    [InlineData("{ \"ReverseProxy\": { \"Routes\": { \"a\": { \"ClusterId\": \"c\", \"clusterId\": \"d\" } } } }", "ReverseProxy:Routes:a")]
    [InlineData("{ \"ReverseProxy\": {}, \"ReverseProxy\": {} }", "ReverseProxy")]
    [InlineData("{ \"ReverseProxy\": {}, \"Edge\": { \"Roles\": { \"Viewer\": [], \"Viewer\": [ \"x\" ] } } }", "Edge:Roles:Viewer")]
    [InlineData("{ \"ReverseProxy\": {}, \"Edge\": { \"Roles\": { \"Viewer\": [], \"viewer\": [ \"x\" ] } } }", "Edge:Roles:viewer")]
    [InlineData("{ \"ReverseProxy\": {}, \"Edge\": { \"RateLimits\": { \"p\": { \"Limit\": 1 }, \"P\": { \"Limit\": 100 } } } }", "Edge:RateLimits:P")]
    [InlineData("{ \"ReverseProxy\": {}, \"Edge\": { \"Authentication\": { \"keys\": { \"Type\": \"ApiKey\" }, \"KEYS\": { \"Type\": \"ApiKey\" } } } }", "Edge:Authentication:KEYS")]
    public void Parse_DuplicateNameInOneObject_IsErrorAtTheDuplicate(string json, string expectedLocation)
    {
        var errors = new ConfigErrorList();

        var parsed = Reader.Parse(Encoding.UTF8.GetBytes(json), errors);

        Assert.Null(parsed);
        var error = Assert.Single(errors.Errors);
        Assert.StartsWith(expectedLocation, error.Location, StringComparison.Ordinal);
        Assert.Contains("given twice", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("$", error.Location + error.Message, StringComparison.Ordinal);
    }

    private sealed record LimitOptions
    {
        public int Limit { get; init; }

        public TimeSpan Window { get; init; }

        public string Key { get; init; } = "";
    }
}
