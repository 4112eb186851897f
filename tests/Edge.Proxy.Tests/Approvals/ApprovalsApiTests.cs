using Edge.Proxy.Approvals;

namespace Edge.Proxy.Tests.Approvals;

public sealed class ApprovalsApiTests
{
    [Theory]
    [InlineData("alice", "alice", true)]
    [InlineData("alice", "Alice", true)] // an API key's principal and a JWT subject of the same person
    [InlineData("ALICE@EXAMPLE.COM", "alice@example.com", true)]
    [InlineData("\u00C9lodie", "\u00E9LODIE", true)] // beyond ASCII too
    [InlineData("alice", "bob", false)]
    [InlineData("alice", "alice2", false)]
    public void SamePerson_Principals_ComparedWithoutRegardToCase(string requester, string approver, bool same)
    {
        Assert.Equal(same, ApprovalsApi.SamePerson(requester, approver));
    }
}
