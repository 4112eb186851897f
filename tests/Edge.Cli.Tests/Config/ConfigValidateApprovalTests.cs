namespace Edge.Cli.Tests.Config;

public sealed class ConfigValidateApprovalTests
{
    [Fact]
    public async Task Validate_BadApprovalPolicy_ExitsNonZeroNamingEachProblem()
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, $$"""
        {
          "ReverseProxy": {
            "Routes": { "payments": { "ClusterId": "c", "Match": { "Path": "/payments/{**rest}" },
              "Transforms": [ { "EdgeApproval": "payments" }, { "EdgeTenant": "Header", "Name": "X-Tenant-ID" }, { "EdgeAuthenticate": "keys" } ] } },
            "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } }
          },
          "Edge": {
            "Authentication": { "keys": { "Type": "ApiKey", "Keys": [ { "Sha256": "{{new string('a', 64)}}", "Principal": "p", "Roles": [ "Approver" ] } ] } },
            "Roles": { "Approver": [ "payments.approve" ] },
            "Approvals": { "payments": { "ApproverPermission": "payments.aprove", "Authentication": "keys,sso" } }
          }
        }
        """);
        try
        {
            var (exitCode, _, error) = await CliRunner.RunAsync("config", "validate", path);

            Assert.Equal(1, exitCode);
            Assert.Contains("error at Edge:Approvals:payments:ApproverPermission: unknown permission 'payments.aprove'", error, StringComparison.Ordinal);
            Assert.Contains("error at Edge:Approvals:payments:Authentication: unknown authentication policy 'sso'", error, StringComparison.Ordinal);
            Assert.Contains("error at ReverseProxy:Routes:payments:Transforms[0]:EdgeApproval: EdgeApproval needs an EdgeTenant step listed before it", error, StringComparison.Ordinal);
            Assert.Contains("error at ReverseProxy:Routes:payments:Transforms[0]:EdgeApproval: EdgeApproval needs an EdgeAuthenticate step listed before it", error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
