namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// On a route that authenticates, a form body is read whatever its framing: an <c>access_token</c> or <c>_method</c>
/// field split across chunks is refused, and the writer records it as it was answered.
/// </summary>
public sealed class FormBodyTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    [Theory]
    [InlineData("/keys/form-a", "Transfer-Encoding: chunked\r\n\r\n4\r\nx=1&\r\n3\r\nacc\r\n9\r\ness_token\r\n2\r\n=z\r\n0\r\n\r\n", "credential_in_body", "credential_in_body")]
    [InlineData("/keys/form-b", "Content-Length: 14\r\n\r\naccess.token=z", "credential_in_body", "credential_in_body")]
    [InlineData("/keys/form-c", "Transfer-Encoding: chunked\r\n\r\n3\r\n_me\r\nB\r\nthod=DELETE\r\n0\r\n\r\n", "method_override", "method_override:form")]
    public async Task AuthenticatedRoute_FormFieldInAnyFraming_Returns400AndWriterRecordsIt(string path, string framing, string code, string reason)
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {HostileEdge.ViewerKey}\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n{framing}");

        Assert.Equal(400, response.Status);
        Assert.Equal(code, response.ProblemCode());
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((400, "deny", reason), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }
}
