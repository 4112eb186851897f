using System.Net;
using Edge.Testing;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>An HTTP/2 client (h2c, prior knowledge) gets the same verification and byte-identical forwarding.</summary>
public sealed class WebhookHttp2Tests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Delivery_Http2Client_VerifiedAndForwardedByteForByte(bool withoutContentLength)
    {
        using var backend = Backend.Start();
        var secrets = Directory.CreateTempSubdirectory("edge-webhook-h2-").FullName;
        try
        {
            var json = WebhookEdgeFixture.CreateProxyJson(backend.Url, (name, value) =>
            {
                var path = Path.Combine(secrets, name);
                File.WriteAllText(path, value);
                return "file:" + path;
            });
            await using var edge = await EdgeHost.StartAsync(json, new Dictionary<string, string?> { ["Kestrel:EndpointDefaults:Protocols"] = "Http2" });
            var id = Guid.NewGuid().ToString("N");
            var body = SchemeUnderTest.Body(id, 3);
            var valid = WebhookSchemes.StandardV1.Sign(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), id, body, false);
            var tampered = valid.WithBody([.. body, (byte)' ']);

            using var rejected = await edge.Client.SendAsync(tampered.ToRequest(withoutContentLength, HttpVersion.Version20));
            using var accepted = await edge.Client.SendAsync(valid.ToRequest(withoutContentLength, HttpVersion.Version20));

            Assert.Equal(HttpVersion.Version20, accepted.Version);
            Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
            var received = Assert.Single(backend.Received).RequestMessage!;
            Assert.Equal(body, received.BodyAsBytes);
            Assert.Equal(body.Length.ToString(), Assert.Single(received.Headers!["Content-Length"]));
        }
        finally
        {
            Directory.Delete(secrets, recursive: true);
        }
    }
}
