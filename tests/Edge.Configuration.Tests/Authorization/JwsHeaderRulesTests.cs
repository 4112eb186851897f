using System.Text;
using Edge.Configuration.Authorization;
using Microsoft.IdentityModel.Tokens;

namespace Edge.Configuration.Tests.Authorization;

public sealed class JwsHeaderRulesTests
{
    [Theory]
    [InlineData("""{"alg":"RS256","kid":"k1"}""")]
    [InlineData("""{"alg":"HS256","typ":"JWT"}""")]
    [InlineData("""{"alg":"HS256","typ":"jwt"}""")]
    [InlineData("""{"alg":"ES256","typ":"application/at+jwt","kid":"x","x5t":"abc"}""")]
    [InlineData("""{"alg":"RS256","jku":"https://evil.test/jwks","jwk":{"kty":"RSA"}}""")]
    public void Check_OrdinaryHeader_Accepted(string header)
    {
        Assert.Null(JwsHeaderRules.Check(Encode(header)));
    }

    [Theory]
    [InlineData("""{"alg":"HS256","crit":["urn:x"],"urn:x":1}""", "crit_unsupported")]
    [InlineData("""{"alg":"HS256","b64":false,"crit":["b64"]}""", "crit_unsupported")]
    [InlineData("""{"alg":"HS256","crit":["urn:x"]}""", "crit_malformed")]
    [InlineData("""{"alg":"HS256","crit":[]}""", "crit_malformed")]
    [InlineData("""{"alg":"HS256","crit":"urn:x","urn:x":1}""", "crit_malformed")]
    [InlineData("""{"alg":"HS256","crit":["alg"]}""", "crit_malformed")]
    [InlineData("""{"alg":"HS256","crit":["x","x"],"x":1}""", "crit_malformed")]
    [InlineData("""{"alg":"HS256","crit":[null]}""", "crit_malformed")]
    [InlineData("""{"alg":"none","alg":"HS256"}""", "header_duplicate")]
    [InlineData("""{"alg":"HS256","typ":"secevent+jwt"}""", "typ")]
    [InlineData("""{"alg":"HS256","typ":7}""", "typ")]
    [InlineData("""{"alg":"HS256","cty":"JWT"}""", "nested")]
    [InlineData("""{"alg":5}""", "malformed")]
    [InlineData("""{"typ":"JWT"}""", "alg_none")]
    [InlineData("""[1]""", "malformed")]
    [InlineData("""{"alg":"HS256"} {}""", "malformed")]
    [InlineData("""{"alg":"HS256""", "malformed")]
    [InlineData("", "malformed")]
    public void Check_HostileHeader_RefusedWithReason(string header, string reason)
    {
        var problem = JwsHeaderRules.Check(Encode(header));

        Assert.NotNull(problem);
        Assert.Equal(reason, problem.Value.Reason);
    }

    [Theory]
    [InlineData("""{"alg":"HS256","k\ud800":1}""")]
    [InlineData("""{"alg":"HS256","typ":"\ud800"}""")]
    [InlineData("""{"alg":"HS256","crit":["\ud800"]}""")]
    public void Check_StringEscapingLoneSurrogate_Malformed(string header)
    {
        // GetString threw InvalidOperationException (not JsonException), which escaped the step as a 500.
        Assert.Equal("malformed", JwsHeaderRules.Check(Encode(header)).GetValueOrDefault().Reason);
    }

    [Theory]
    [InlineData("{\"alg\":\"HS256\",\"k", "\":1}")]
    [InlineData("{\"alg\":\"HS256\",\"typ\":\"", "\"}")]
    public void Check_StringNotUtf8_Malformed(string before, string after)
    {
        byte[] header = [.. Encoding.UTF8.GetBytes(before), 0xFF, .. Encoding.UTF8.GetBytes(after)];

        Assert.Equal("malformed", JwsHeaderRules.Check(Base64UrlEncoder.Encode(header)).GetValueOrDefault().Reason);
    }

    [Fact]
    public void Check_NotBase64Url_Malformed()
    {
        Assert.Equal("malformed", JwsHeaderRules.Check("eyJ%%%").GetValueOrDefault().Reason);
    }

    private static string Encode(string header) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(header));
}
