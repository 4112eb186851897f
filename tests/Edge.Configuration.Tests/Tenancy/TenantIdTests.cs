using Edge.Configuration.Tenancy;

namespace Edge.Configuration.Tests.Tenancy;

public sealed class TenantIdTests
{
    [Theory]
    [InlineData("acme")]
    [InlineData("A.b_c-9")]
    [InlineData("a")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123")]
    public void IsValid_AllowedCharactersAndLength_True(string tenant) => Assert.True(TenantId.IsValid(tenant));

    [Theory]
    [InlineData("")]
    [InlineData("acme:prod")]
    [InlineData("{acme}")]
    [InlineData("ac me")]
    [InlineData("ümlaut")]
    [InlineData("01234567890123456789012345678901234567890123456789012345678901234")]
    public void IsValid_ForbiddenCharacterOrLength_False(string tenant) => Assert.False(TenantId.IsValid(tenant));
}
