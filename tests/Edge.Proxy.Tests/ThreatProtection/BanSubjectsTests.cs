using Edge.Proxy.Pipeline;
using Edge.Proxy.ThreatProtection;

namespace Edge.Proxy.Tests.ThreatProtection;

public sealed class BanSubjectsTests
{
    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("acme:203.0.113.7", "203.0.113.7")]
    [InlineData("scan:203.0.113.7", "203.0.113.7")]
    [InlineData("2001_db8__", "2001:db8::")]
    [InlineData("acme:2001_db8__", "2001:db8::")]
    public void ForManual_KeyHoldsAnAddress_SubjectIsThatAddress(string key, string address)
    {
        Assert.Equal(new BanSubject(null, address, null), BanSubjects.ForManual(key, principal: null, tenant: null));
    }

    [Theory]
    [InlineData("acme:alice")]
    [InlineData("12345")]
    [InlineData("acme:1")]
    [InlineData("~3f2a9c")]
    public void ForManual_KeyHoldsNoAddressAndNoPrincipalGiven_NoSubject(string key)
    {
        Assert.Null(BanSubjects.ForManual(key, principal: null, tenant: null));
    }

    [Fact]
    public void ForManual_PrincipalGiven_SubjectIsThePrincipalInItsTenant()
    {
        Assert.Equal(new BanSubject("alice", null, "acme"), BanSubjects.ForManual("acme:203.0.113.7", "alice", "acme"));
    }
}
