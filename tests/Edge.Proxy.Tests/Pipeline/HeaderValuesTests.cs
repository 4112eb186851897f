using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class HeaderValuesTests
{
    [Fact]
    public void AreValid_TabSpaceAndEveryVisibleAsciiCharacter_True()
    {
        var visible = string.Concat(Enumerable.Range(0x20, 0x7E - 0x20 + 1).Select(c => (char)c));

        Assert.True(HeaderValues.AreValid(new StringValues("a\t" + visible)));
        Assert.True(HeaderValues.AreValid(StringValues.Empty));
        Assert.True(HeaderValues.AreValid(new StringValues(["a", "b\tc"])));
    }

    [Fact]
    public void AreValid_EveryControlCharacterButTabDelAndEveryLatin1Byte_False()
    {
        var refused = Enumerable.Range(0, 0x20).Where(c => c != '\t').Concat([0x7F]).Concat(Enumerable.Range(0x80, 0x80)).Concat([0x2615]);

        Assert.All(refused, c => Assert.False(HeaderValues.AreValid(new StringValues($"ok{(char)c}ok")), $"U+{c:X4}"));
    }

    [Theory]
    [InlineData(" a")]
    [InlineData("a ")]
    [InlineData("\ta")]
    [InlineData("a\t")]
    [InlineData(" ")]
    public void AreValid_LeadingOrTrailingSpaceOrTab_False(string value)
    {
        Assert.False(HeaderValues.AreValid(new StringValues(value)));
        Assert.False(HeaderValues.AreValid(new StringValues(["fine", value])));
    }

    [Fact]
    public void AreValid_SecondOfTwoValuesInvalid_False()
    {
        Assert.False(HeaderValues.AreValid(new StringValues(["fine", "caf\u00e9"])));
    }

    [Fact]
    public void Check_OneInvalidValueAmongValidHeaders_HeaderInvalid400()
    {
        var headers = new HeaderDictionary { ["X-A"] = "fine", ["X-B"] = "caf\u00e9", ["X-C"] = "fine" };

        var denial = HeaderValues.Check(headers);

        Assert.Same(HeaderValues.Denial, denial);
        Assert.Equal((400, "header_invalid", "header_invalid:character"), (denial!.Status, denial.Code, denial.Reason));
        Assert.Null(HeaderValues.Check(new HeaderDictionary { ["X-A"] = "fine" }));
    }
}
