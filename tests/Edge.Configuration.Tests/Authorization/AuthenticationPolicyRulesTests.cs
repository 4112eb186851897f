using Edge.Configuration.Authorization;
using Edge.Configuration;

namespace Edge.Configuration.Tests.Authorization;

public sealed class AuthenticationPolicyRulesTests
{
    private const string ShortSecretVariable = "EDGE_UNIT_SHORT_SECRET";
    private const string GoodSecretVariable = "EDGE_UNIT_GOOD_SECRET";

    static AuthenticationPolicyRulesTests()
    {
        Environment.SetEnvironmentVariable(ShortSecretVariable, "too-short");
        Environment.SetEnvironmentVariable(GoodSecretVariable, new string('k', 32));
    }

    public static TheoryData<string, string> InvalidPolicies() => new()
    {
        { "mixed-algorithms", "Edge:Authentication:p:Algorithms" },
        { "rs-with-secret", "Edge:Authentication:p:Algorithms" },
        { "hs-with-jwks", "Edge:Authentication:p:Algorithms" },
        { "none-algorithm", "Edge:Authentication:p:Algorithms" },
        { "short-secret", "Edge:Authentication:p:SigningKey" },
        { "inline-secret", "Edge:Authentication:p:SigningKey" },
        { "two-key-sources", "Edge:Authentication:p" },
        { "http-jwks", "Edge:Authentication:p:JwksUrl" },
        { "jwks-userinfo", "Edge:Authentication:p:JwksUrl" },
        { "authority-userinfo", "Edge:Authentication:p:Authority" },
        { "no-audience", "Edge:Authentication:p:Audience" },
        { "no-issuer", "Edge:Authentication:p:Issuer" },
        { "skew-too-large", "Edge:Authentication:p:ClockSkew" },
        { "bad-hash", "Edge:Authentication:p:Keys[0]:Sha256" },
        { "bad-tenant", "Edge:Authentication:p:Keys[0]:Tenant" },
        { "identity-header", "Edge:Authentication:p:Header" },
        { "unknown-type", "Edge:Authentication:p:Type" },
    };

    [Theory]
    [MemberData(nameof(InvalidPolicies))]
    public void Validate_InvalidPolicy_ReportsLocation(string kind, string location)
    {
        var hs = new AuthenticationPolicyOptions { Type = "Jwt", Issuer = "https://id.test", Audience = "edge", SigningKey = "env:" + GoodSecretVariable };
        var rs = new AuthenticationPolicyOptions { Type = "Jwt", Issuer = "https://id.test", Audience = "edge", JwksUrl = "https://id.test/jwks" };
        var key = new AuthenticationPolicyOptions { Type = "ApiKey", Keys = [new ApiKeyEntry { Sha256 = new string('a', 64), Principal = "p" }] };
        var policy = kind switch
        {
            "mixed-algorithms" => hs with { Algorithms = ["HS256", "RS256"] },
            "rs-with-secret" => hs with { Algorithms = ["RS256"] },
            "hs-with-jwks" => rs with { Algorithms = ["HS256"] },
            "none-algorithm" => rs with { Algorithms = ["none"] },
            "short-secret" => hs with { SigningKey = "env:" + ShortSecretVariable },
            "inline-secret" => hs with { SigningKey = "my-inline-secret-that-is-long-enough-0123" },
            "two-key-sources" => hs with { JwksUrl = "https://id.test/jwks" },
            "http-jwks" => rs with { JwksUrl = "http://id.test/jwks" },
            // HttpClient never sends the user name and password of a URL, and a password in proxy.json is an inline secret.
            "jwks-userinfo" => rs with { JwksUrl = "https://svc:hunter2@id.test/jwks" },
            "authority-userinfo" => rs with { JwksUrl = null, Authority = "https://svc:hunter2@id.test" },
            "no-audience" => rs with { Audience = null },
            "no-issuer" => rs with { Issuer = null },
            "skew-too-large" => rs with { ClockSkew = TimeSpan.FromMinutes(10) },
            "bad-hash" => key with { Keys = [new ApiKeyEntry { Sha256 = "xyz", Principal = "p" }] },
            "bad-tenant" => key with { Keys = [new ApiKeyEntry { Sha256 = new string('a', 64), Principal = "p", Tenant = "a:b" }] },
            "identity-header" => key with { Header = "X-Edge-Key" },
            _ => rs with { Type = "Saml" },
        };
        var errors = new ConfigErrorList();

        AuthenticationPolicyRules.Validate("p", policy, errors);

        Assert.Contains(errors.Errors, e => e.Location == location);
    }

    [Theory]
    [InlineData("X_Edge_Key", "X-Edge-")]
    [InlineData("x_edge-Key", "X-Edge-")]
    [InlineData("X-Corp-Key", "X_Corp_")]
    public void Validate_ApiKeyHeaderUnderIdentityPrefixWithUnderscores_ReportsHeader(string header, string prefix)
    {
        // The edge removes client headers under the prefix with '_' counting as '-' (a CGI-style backend reads both as
        // one), so the key never reached the step and every request of the route was refused authentication_required.
        var policy = new AuthenticationPolicyOptions { Type = "ApiKey", Header = header, Keys = [new ApiKeyEntry { Sha256 = new string('a', 64), Principal = "p" }] };
        var errors = new ConfigErrorList();

        AuthenticationPolicyRules.Validate("p", policy, errors, prefix);

        Assert.Contains(errors.Errors, e => e.Location == "Edge:Authentication:p:Header");
    }

    [Theory]
    [InlineData("X_Api_Key")]
    [InlineData("api_key")]
    public void Validate_ApiKeyHeaderWithUnderscore_ReportsHeader(string header)
    {
        // The edge removes every underscore spelling of a credential header before forwarding, the validated one
        // included, and left the client's dashed X-Api-Key, which a CGI-style backend reads as the same header: the
        // backend got an unchecked key in place of the one the edge checked.
        var policy = new AuthenticationPolicyOptions { Type = "ApiKey", Header = header, Keys = [new ApiKeyEntry { Sha256 = new string('a', 64), Principal = "p" }] };
        var errors = new ConfigErrorList();

        AuthenticationPolicyRules.Validate("p", policy, errors);

        Assert.Contains(errors.Errors, e => e.Location == "Edge:Authentication:p:Header");
    }

    [Theory]
    [InlineData("X-Api-Key,")]
    [InlineData("X-Api(Key)")]
    [InlineData("X-\"Key\"")]
    [InlineData("X-Api/Key")]
    public void Validate_ApiKeyHeaderNotAToken_ReportsHeader(string header)
    {
        // RFC 9110 §5.1: a field name is a token. Such a name was accepted, though no conforming client can send it
        // (HttpClient refuses to), so every request of its routes was refused authentication_required.
        var policy = new AuthenticationPolicyOptions { Type = "ApiKey", Header = header, Keys = [new ApiKeyEntry { Sha256 = new string('a', 64), Principal = "p" }] };
        var errors = new ConfigErrorList();

        AuthenticationPolicyRules.Validate("p", policy, errors);

        Assert.Contains(errors.Errors, e => e.Location == "Edge:Authentication:p:Header");
    }

    [Fact]
    public void Validate_ValidPolicies_NoErrors()
    {
        var errors = new ConfigErrorList();

        AuthenticationPolicyRules.Validate("hs", new AuthenticationPolicyOptions { Type = "Jwt", Issuer = "https://id.test", Audience = "edge", SigningKey = "env:" + GoodSecretVariable }, errors);
        AuthenticationPolicyRules.Validate("oidc", new AuthenticationPolicyOptions { Type = "Jwt", Audience = "edge", Authority = "https://id.test" }, errors);
        AuthenticationPolicyRules.Validate("keys", new AuthenticationPolicyOptions { Type = "ApiKey", Keys = [new ApiKeyEntry { Sha256 = new string('A', 64), Principal = "p", Tenant = "acme" }] }, errors);

        Assert.Empty(errors.Items);
    }

    [Fact]
    public void EffectiveAlgorithms_Defaults_PinnedPerKeySource()
    {
        Assert.Equal(["HS256"], AuthenticationPolicyRules.EffectiveAlgorithms(new AuthenticationPolicyOptions { SigningKey = "env:X" }));
        Assert.Equal(["RS256", "ES256"], AuthenticationPolicyRules.EffectiveAlgorithms(new AuthenticationPolicyOptions { JwksUrl = "https://x" }));
    }
}
