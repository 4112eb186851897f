using Edge.Proxy.Approvals;

namespace Edge.Proxy.Tests.Approvals;

public sealed class ApprovalTokenTests
{
    [Fact]
    public void Create_NewToken_ParsesBackToItsIdAndStoredHash()
    {
        var id = ApprovalToken.NewId();

        var (token, hash) = ApprovalToken.Create(id);
        var parsed = ApprovalToken.TryParse(token, out var parsedId, out var parsedHash);

        Assert.True(parsed);
        Assert.Equal(id, parsedId);
        Assert.Equal(hash, parsedHash);
        Assert.Matches("^[0-9a-f]{32}\\.[A-Za-z0-9_-]{43}$", token);
        Assert.DoesNotContain(token[(id.Length + 1)..], hash, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_TwoTokensForOneId_DifferInTheirSecret()
    {
        var id = ApprovalToken.NewId();

        var first = ApprovalToken.Create(id);
        var second = ApprovalToken.Create(id);

        Assert.NotEqual(first.Token, second.Token);
        Assert.NotEqual(first.Hash, second.Hash);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("0123456789abcdef0123456789abcdef")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("0123456789abcdef0123456789abcdef.AAAA")]
    [InlineData("0123456789abcdef0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("../../0123456789abcdef0123456789ab.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void TryParse_Malformed_False(string token)
    {
        Assert.False(ApprovalToken.TryParse(token, out _, out _));
    }

    [Fact]
    public void Fingerprint_AnyFieldChanged_DiffersAndFieldsCannotShift()
    {
        var body = ApprovalFingerprint.BodySha256("{}"u8);
        var baseline = ApprovalFingerprint.Compute("p", "r", "POST", "/a", "?x=1", "acme", "alice", body);

        Assert.Equal(baseline, ApprovalFingerprint.Compute("p", "r", "post", "/a", "?x=1", "acme", "alice", body));
        Assert.NotEqual(baseline, ApprovalFingerprint.Compute("p", "r", "PUT", "/a", "?x=1", "acme", "alice", body));
        Assert.NotEqual(baseline, ApprovalFingerprint.Compute("p", "r", "POST", "/b", "?x=1", "acme", "alice", body));
        Assert.NotEqual(baseline, ApprovalFingerprint.Compute("p", "r", "POST", "/a", "?x=2", "acme", "alice", body));
        Assert.NotEqual(baseline, ApprovalFingerprint.Compute("p", "r", "POST", "/a", "?x=1", "globex", "alice", body));
        Assert.NotEqual(baseline, ApprovalFingerprint.Compute("p", "r", "POST", "/a", "?x=1", null, "alice", body));
        Assert.NotEqual(baseline, ApprovalFingerprint.Compute("p", "r", "POST", "/a", "?x=1", "acme", "bob", body));
        Assert.NotEqual(baseline, ApprovalFingerprint.Compute("p", "r", "POST", "/a", "?x=1", "acme", "alice", body, "type=application/json\nencoding="));
        Assert.NotEqual(baseline, ApprovalFingerprint.Compute("p", "r", "POST", "/a", "?x=1", "acme", "alice", ApprovalFingerprint.BodySha256("{ }"u8)));
        // Moving text from one field to the next must not produce the same fingerprint.
        Assert.NotEqual(
            ApprovalFingerprint.Compute("p", "r", "POST", "/a?", "x=1", "acme", "alice", body),
            ApprovalFingerprint.Compute("p", "r", "POST", "/a", "?x=1", "acme", "alice", body));
    }
}
