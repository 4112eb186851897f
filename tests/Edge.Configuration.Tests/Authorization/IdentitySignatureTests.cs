using System.Security.Cryptography;
using System.Text;
using Edge.Configuration.Authorization;

namespace Edge.Configuration.Tests.Authorization;

public sealed class IdentitySignatureTests
{
    private static readonly byte[] Key = Encoding.UTF8.GetBytes("identity-signing-key-0123456789abcdef");

    [Fact]
    public void Compute_DocumentedString_MatchesIndependentHmac()
    {
        // The exact string documented in docs/authentication.md, built by hand.
        var documented = "edge-identity-v2\n1700000000\n0192f0c1d2e3\nPOST\n/orders/7?expand=items\nalice\nacme\nAgent,Viewer";
        var expected = "v2=" + Convert.ToHexStringLower(HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes(documented)));

        var signature = IdentitySignature.Compute(Key, 1700000000, "0192f0c1d2e3", "POST", "/orders/7?expand=items", "alice", "acme", "Agent,Viewer");

        Assert.Equal(documented, IdentitySignature.SignedString(1700000000, "0192f0c1d2e3", "POST", "/orders/7?expand=items", "alice", "acme", "Agent,Viewer"));
        Assert.Equal(expected, signature);
    }

    [Fact]
    public void Verify_AnyFieldChanged_Fails()
    {
        var signature = IdentitySignature.Compute(Key, 1700000000, "r1", "GET", "/x", "alice", null, "Agent");

        Assert.True(IdentitySignature.Verify(Key, signature, 1700000000, "r1", "GET", "/x", "alice", "", "Agent"));
        Assert.False(IdentitySignature.Verify(Key, signature, 1700000001, "r1", "GET", "/x", "alice", null, "Agent"));
        Assert.False(IdentitySignature.Verify(Key, signature, 1700000000, "r1", "GET", "/x", "alice", "acme", "Agent"));
        Assert.False(IdentitySignature.Verify(Key, signature, 1700000000, "r1", "GET", "/x", "alice", null, "Admin"));
        Assert.False(IdentitySignature.Verify(Key, signature, 1700000000, "r1", "GET", "/y", "alice", null, "Agent"));
        Assert.False(IdentitySignature.Verify(Key, signature, 1700000000, "r1", "GET", "/x?admin=1", "alice", null, "Agent"));
        Assert.False(IdentitySignature.Verify(Key, signature, 1700000000, "r1", "DELETE", "/x", "alice", null, "Agent"));
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(-60, true)]
    [InlineData(60, true)]
    [InlineData(-61, false)]
    [InlineData(3600, false)]
    [InlineData(long.MinValue / 2, false)]
    public void Verify_WithClock_RefusesTimestampOutsideTolerance(long offsetSeconds, bool accepted)
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1700000000);
        var timestamp = 1700000000 + offsetSeconds;
        var signature = IdentitySignature.Compute(Key, timestamp, "r1", "GET", "/x", "alice", "acme", "Agent");

        Assert.Equal(accepted, IdentitySignature.Verify(Key, signature, timestamp, "r1", "GET", "/x", "alice", "acme", "Agent", now, TimeSpan.FromSeconds(60)));
        Assert.False(IdentitySignature.Verify(Key, signature, timestamp, "r1", "GET", "/x", "mallory", "acme", "Agent", now, TimeSpan.FromSeconds(60)));
    }
}
