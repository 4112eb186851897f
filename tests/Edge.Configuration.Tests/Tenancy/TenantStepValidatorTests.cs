using Edge.Configuration.Tenancy;

namespace Edge.Configuration.Tests.Tenancy;

public sealed class TenantStepValidatorTests
{
    [Theory]
    [InlineData("Sideways", null, null, "EdgeTenant")]
    [InlineData("Header", null, null, "Name")]
    [InlineData("Header", "Name", "X Tenant", "Name")]
    [InlineData("Header", "Name", "X-Tenant:", "Name")]
    [InlineData("Path", null, null, "RouteValue")]
    [InlineData("Static", "Value", "bad:tenant", "Value")]
    [InlineData("Header", "Required", "maybe", "Required")]
    [InlineData("Path", "Segment", "-1", "Segment")]
    public void TryParse_InvalidOptions_NamesTheField(string source, string? key, string? value, string expectedField)
    {
        var values = new Dictionary<string, string> { ["EdgeTenant"] = source };
        if (key is not null)
        {
            values[key] = value!;
        }

        Assert.False(TenantStepValidator.TryParse(values, out _, out var field, out var error));
        Assert.Equal(expectedField, field);
        Assert.NotEmpty(error);
    }

    [Fact]
    public void TryParse_RequiredOmitted_DefaultsToRequired()
    {
        Assert.True(TenantStepValidator.TryParse(new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }, out var options, out _, out _));
        Assert.True(options.Required);
        Assert.Equal(TenantSource.Header, options.Source);
    }
}
