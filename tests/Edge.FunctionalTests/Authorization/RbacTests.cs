using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Edge.Proxy.Authorization;
using Edge.Testing;

namespace Edge.FunctionalTests.Authorization;

public sealed class RbacTests : IAsyncLifetime
{
    private readonly TestTokens _tokens = new();
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(Config(SeedRoles()));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
        _tokens.Dispose();
    }

    public static TheoryData<string, string, bool> SeedRoleCases() => new()
    {
        { "Admin", "/admin/settings", true },
        { "Admin", "/orders-assign/1", true },
        { "ProjectManager", "/orders-assign/1", true },
        { "ProjectManager", "/admin/settings", false },
        { "Agent", "/orders-write/1", true },
        { "Agent", "/orders-assign/1", false },
        { "Viewer", "/orders/1", true },
        { "Viewer", "/orders-write/1", false },
        { "ProjectManager", "/all/1", true },
        { "Agent", "/all/1", false },
        { "Unknown", "/orders/1", false },
    };

    [Theory]
    [MemberData(nameof(SeedRoleCases))]
    public async Task Require_SeedRole_AllowedOrDeniedByPermission(string role, string path, bool allowed)
    {
        using var response = await SendAsync(path, role);

        if (allowed)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Single(_backend.Received);
            return;
        }

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(AuthenticationCodes.PermissionDenied, problem.RootElement.GetProperty("code").GetString());
        var detail = problem.RootElement.GetProperty("detail").GetString()!;
        Assert.Matches("requires the permission '(orders|admin)\\.[a-z]+'", detail);
        Assert.DoesNotContain(role, detail, StringComparison.Ordinal);
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task Require_AllModeMissingOne_NamesTheMissingPermission()
    {
        using var response = await SendAsync("/all/1", "Agent");

        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("This route requires the permission 'orders.assign'.", problem.RootElement.GetProperty("detail").GetString());
        var metrics = await _edge.Management.GetStringAsync("/metrics");
        Assert.Matches("edge_step_decisions_total\\{[^}]*reason=\"permission_denied:orders.assign\"", metrics);
    }

    [Theory]
    [InlineData("Agent", "STUDENT", HttpStatusCode.Forbidden)]
    [InlineData("Admin", "student", HttpStatusCode.Forbidden)]
    [InlineData("Agent", "SENIOR", HttpStatusCode.OK)]
    [InlineData("Agent", null, HttpStatusCode.OK)]
    public async Task RequireClaim_NotInStudent_BlocksStudentAgents(string role, string? maturity, HttpStatusCode expected)
    {
        using var response = await SendAsync("/im/send", role, maturity);

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.Forbidden)
        {
            await JwtAuthenticationTests.AssertProblemAsync(response, AuthenticationCodes.ClaimDenied);
            Assert.Empty(_backend.Received);
        }
    }

    public static TheoryData<string, object, HttpStatusCode> StructuredMaturity => new()
    {
        { "array", new[] { "SENIOR", "STUDENT" }, HttpStatusCode.Forbidden },
        { "object", new Dictionary<string, string> { ["level"] = "STUDENT" }, HttpStatusCode.Forbidden },
        { "nested-array", new[] { new[] { "STUDENT" } }, HttpStatusCode.Forbidden },
        { "object-without-listed-value", new Dictionary<string, string> { ["level"] = "SENIOR" }, HttpStatusCode.Forbidden },
        { "array-of-unlisted", new[] { "SENIOR", "LEAD" }, HttpStatusCode.OK },
    };

    [Theory]
    [MemberData(nameof(StructuredMaturity))]
    public async Task RequireClaim_NotInWithStructuredClaimValue_RefusedBecauseItCannotBeChecked(string shape, object maturity, HttpStatusCode expected)
    {
        // An object or a nested array is one claim holding JSON text: a deny list that compared it as a string let
        // {"level":"STUDENT"} through.
        using var response = await SendAsync("/im/send", "Agent", claims: new Dictionary<string, object> { ["maturity"] = maturity });

        Assert.True(expected == response.StatusCode, $"{shape}: {response.StatusCode}");
        if (expected == HttpStatusCode.Forbidden)
        {
            await JwtAuthenticationTests.AssertProblemAsync(response, AuthenticationCodes.ClaimDenied);
        }
    }

    [Theory]
    [InlineData("/scoped/1", "scope", "openid orders.read profile", HttpStatusCode.OK)]
    [InlineData("/scoped/1", "scope", "orders.read", HttpStatusCode.OK)]
    [InlineData("/scoped/1", "scope", "openid orders.write", HttpStatusCode.Forbidden)]
    [InlineData("/scoped/1", "scope", "orders.read.all", HttpStatusCode.Forbidden)]
    [InlineData("/no-guest/1", "scp", "openid guest", HttpStatusCode.Forbidden)]
    [InlineData("/no-guest/1", "scp", "guest", HttpStatusCode.Forbidden)]
    [InlineData("/no-guest/1", "scp", "openid guests", HttpStatusCode.OK)]
    public async Task RequireClaim_ScopeAsSpaceSeparatedString_EachScopeCompared(string path, string claim, string scopes, HttpStatusCode expected)
    {
        // RFC 9068 (and Entra ID's scp): one string of space-separated scopes. Compared as a whole, In refused every
        // token with more than one scope and NotIn let "openid guest" through.
        using var response = await SendAsync(path, "Viewer", claims: new Dictionary<string, object> { [claim] = scopes });

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.Forbidden)
        {
            await JwtAuthenticationTests.AssertProblemAsync(response, AuthenticationCodes.ClaimDenied);
            Assert.Empty(_backend.Received);
        }
    }

    [Fact]
    public async Task Require_Unauthenticated_Returns401BeforePermissionCheck()
    {
        using var response = await _edge.Client.GetAsync("/orders/1");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await JwtAuthenticationTests.AssertProblemAsync(response, AuthenticationCodes.AuthenticationRequired);
    }

    [Fact]
    public async Task Roles_NewRoleAddedByHotReload_TakesEffectWithoutRestart()
    {
        using (var before = await SendAsync("/orders-assign/1", "Dispatcher"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, before.StatusCode);
        }

        var roles = SeedRoles();
        roles["Dispatcher"] = ["orders.read", "orders.assign"];
        await _edge.WriteConfigAsync(Config(roles));

        var status = HttpStatusCode.Forbidden;
        for (var attempt = 0; attempt < 50 && status != HttpStatusCode.OK; attempt++)
        {
            await Task.Delay(100);
            using var after = await SendAsync("/orders-assign/1", "Dispatcher");
            status = after.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, status);
    }

    private static Dictionary<string, string[]> SeedRoles() => new()
    {
        ["Admin"] = ["*"],
        ["ProjectManager"] = ["orders.read", "orders.write", "orders.assign"],
        ["Agent"] = ["orders.read", "orders.write"],
        ["Viewer"] = ["orders.read"],
    };

    private string Config(Dictionary<string, string[]> roles)
    {
        object Auth() => new Dictionary<string, string> { ["EdgeAuthenticate"] = "corp" };
        object Require(string permissions, string? mode = null)
        {
            var values = new Dictionary<string, string> { ["EdgeRequire"] = permissions };
            if (mode is not null)
            {
                values["Mode"] = mode;
            }

            return values;
        }

        return ProxyJson.Create(
            _backend.Url,
            new Dictionary<string, object>
            {
                ["orders-read"] = ProxyJson.Route("/orders/{**rest}", Auth(), Require("orders.read")),
                ["orders-write"] = ProxyJson.Route("/orders-write/{**rest}", Auth(), Require("orders.write")),
                ["orders-assign"] = ProxyJson.Route("/orders-assign/{**rest}", Auth(), Require("orders.assign")),
                ["admin"] = ProxyJson.Route("/admin/{**rest}", Auth(), Require("admin.settings")),
                ["all"] = ProxyJson.Route("/all/{**rest}", Auth(), Require("orders.read,orders.assign", "All")),
                ["scoped"] = ProxyJson.Route("/scoped/{**rest}", Auth(), new Dictionary<string, string> { ["EdgeRequireClaim"] = "scope", ["In"] = "orders.read" }),
                ["no-guest"] = ProxyJson.Route("/no-guest/{**rest}", Auth(), new Dictionary<string, string> { ["EdgeRequireClaim"] = "scp", ["NotIn"] = "guest" }),
                ["im"] = ProxyJson.Route("/im/{**rest}", Auth(), Require("orders.write"), new Dictionary<string, string> { ["EdgeRequireClaim"] = "maturity", ["NotIn"] = "STUDENT" }),
            },
            new
            {
                Authentication = new Dictionary<string, object>
                {
                    ["corp"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, SigningKey = "env:" + _tokens.HmacEnvironmentVariable },
                },
                Roles = roles,
            });
    }

    private Task<HttpResponseMessage> SendAsync(string path, string role, string? maturity = null, Dictionary<string, object>? claims = null)
    {
        claims ??= [];
        claims["roles"] = new[] { role };
        if (maturity is not null)
        {
            claims["maturity"] = maturity;
        }

        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create(_tokens.Hs256, "user-" + role.ToLowerInvariant(), claims));
        return _edge.Client.SendAsync(request);
    }
}
