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
        // The exact string documented in the README, built by hand.
        var documented = "edge-identity-v1\n1700000000\n0192f0c1d2e3\nPOST\nalice\nacme\nAgent,Viewer";
        var expected = "v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes(documented)));

        var signature = IdentitySignature.Compute(Key, 1700000000, "0192f0c1d2e3", "POST", "alice", "acme", "Agent,Viewer");

        Assert.Equal(documented, IdentitySignature.SignedString(1700000000, "0192f0c1d2e3", "POST", "alice", "acme", "Agent,Viewer"));
        Assert.Equal(expected, signature);
    }

    [Fact]
    public void Verify_AnyFieldChanged_Fails()
    {
        var signature = IdentitySignature.Compute(Key, 1700000000, "r1", "GET", "alice", null, "Agent");

        Assert.True(IdentitySignature.Verify(Key, signature, 1700000000, "r1", "GET", "alice", "", "Agent"));
        Assert.False(IdentitySignature.Verify(Key, signature, 1700000001, "r1", "GET", "alice", null, "Agent"));
        Assert.False(IdentitySignature.Verify(Key, signature, 1700000000, "r1", "GET", "alice", "acme", "Agent"));
        Assert.False(IdentitySignature.Verify(Key, signature, 1700000000, "r1", "GET", "alice", null, "Admin"));
    }
}
