using System.Net;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>
/// A captured delivery whose signed content has no timestamp (GitHub, generic HMAC without one) must not replay with a
/// fresh, unsigned delivery id: the verified signature is reserved for the replay window too, in process or in Redis.
/// </summary>
public sealed class WebhookSignatureReplayTests(RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
{
    private readonly string _secrets = Directory.CreateTempSubdirectory("edge-webhook-sigreplay-").FullName;

    public void Dispose() => Directory.Delete(_secrets, recursive: true);

    [Fact]
    public async Task GitHub_CapturedDeliveryWithFreshDeliveryId_RefusedAsReplayInProcess()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJsonFor(backend.Url));
        var delivery = Delivery(WebhookSchemes.GitHub);

        using var first = await edge.Client.SendAsync(delivery.ToRequest());
        using var replayed = await edge.Client.SendAsync(delivery.WithHeader("X-GitHub-Delivery", Guid.NewGuid().ToString()).ToRequest());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await AssertReplayAsync(replayed);
        Assert.Single(backend.Received);
    }

    [Fact]
    public async Task Generic_NoTimestampSameSignatureTwice_RefusedAsReplayInProcess()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJsonFor(backend.Url));
        var delivery = Delivery(WebhookSchemes.GenericBase64);

        using var first = await edge.Client.SendAsync(delivery.ToRequest());
        using var replayed = await edge.Client.SendAsync(delivery.ToRequest());
        using var other = await edge.Client.SendAsync(Delivery(WebhookSchemes.GenericBase64).ToRequest());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await AssertReplayAsync(replayed);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal(2, backend.Received.Count);
    }

    [Fact]
    public async Task GitHub_BackendFailedThenReplayWithFreshId_SignatureReleasedSoRetryForwarded()
    {
        using var backend = Backend.Start(status: 500);
        await using var edge = await EdgeHost.StartAsync(ProxyJsonFor(backend.Url));
        var delivery = Delivery(WebhookSchemes.GitHub);

        using var failed = await edge.Client.SendAsync(delivery.ToRequest());
        backend.Server.Reset();
        backend.Server.Given(WireMock.RequestBuilders.Request.Create().UsingAnyMethod()).RespondWith(WireMock.ResponseBuilders.Response.Create().WithStatusCode(200));
        using var retried = await edge.Client.SendAsync(delivery.WithHeader("X-GitHub-Delivery", Guid.NewGuid().ToString()).ToRequest());

        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
    }

    [Fact]
    public async Task GitHub_ClientHangsUpAfterBackendGotDelivery_ReplayStillRefused()
    {
        // Before, a client that went away before the answer released the reservation even when the backend already had
        // the delivery: sending a captured delivery and hanging up each time replayed it to the backend without end.
        var received = 0;
        var arrived = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = TcpBackend.Start(async (client, cancellationToken) =>
        {
            using (client)
            {
                var stream = client.GetStream();
                var head = await ReadHeadAsync(stream, cancellationToken);
                if (Interlocked.Increment(ref received) == 1)
                {
                    // The backend holds the first delivery (as a slow one would, while acting on it) until the edge lets go.
                    arrived.TrySetResult(RequestIdOf(head));
                    while (await stream.ReadAsync(new byte[4096], cancellationToken) > 0)
                    {
                    }

                    return;
                }

                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray(), cancellationToken);
            }
        });
        await using var edge = await EdgeHost.StartAsync(ProxyJsonFor(backend.Url));
        var delivery = Delivery(WebhookSchemes.GitHub);

        using (var client = new System.Net.Sockets.TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, edge.ProxyPort);
            var head = $"POST {delivery.Path} HTTP/1.1\r\nHost: x\r\nContent-Length: {delivery.Body.Length}\r\n"
                + string.Concat(delivery.Headers.Select(h => $"{h.Key}: {h.Value}\r\n")) + "\r\n";
            byte[] request = [.. System.Text.Encoding.ASCII.GetBytes(head), .. delivery.Body];
            await client.GetStream().WriteAsync(request);
            await arrived.Task.WaitAsync(TimeSpan.FromSeconds(15));
        }

        var hungUp = await edge.LocalAuditDataAsync(await arrived.Task);
        using var replayed = await edge.Client.SendAsync(delivery.ToRequest());

        Assert.Equal(499, hungUp.GetProperty("status").GetInt32());
        // Neither released nor accepted: nothing says whether the backend acted on it, so it stays in flight.
        Assert.Equal(HttpStatusCode.Conflict, replayed.StatusCode);
        using var problem = JsonDocument.Parse(await replayed.Content.ReadAsStringAsync());
        Assert.Equal("delivery_in_flight", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(1, Volatile.Read(ref received));
    }

    [Fact]
    public async Task GitHub_SenderRetriesAsSoonAsBackendErrorStatusArrives_RetryForwarded()
    {
        // Before, the reservation was released only once the whole request ended: a sender retrying as soon as it read
        // the backend's 500 (its body still being relayed) got 409 "already accepted" for a delivery nobody accepted.
        var received = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = TcpBackend.Start(async (client, cancellationToken) =>
        {
            using (client)
            {
                var stream = client.GetStream();
                await ReadHeadAsync(stream, cancellationToken);
                if (Interlocked.Increment(ref received) == 1)
                {
                    // The error's status and part of its body go out at once; the rest only when the test lets go.
                    await stream.WriteAsync("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 10\r\n\r\nerr"u8.ToArray(), cancellationToken);
                    await release.Task.WaitAsync(cancellationToken);
                    await stream.WriteAsync("or-done"u8.ToArray(), cancellationToken);
                    return;
                }

                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray(), cancellationToken);
            }
        });
        await using var edge = await EdgeHost.StartAsync(ProxyJsonFor(backend.Url));
        var delivery = Delivery(WebhookSchemes.GitHub);

        using var failed = await edge.Client.SendAsync(delivery.ToRequest(), HttpCompletionOption.ResponseHeadersRead);
        using var retried = await edge.Client.SendAsync(delivery.ToRequest());
        release.TrySetResult();
        await failed.Content.ReadAsByteArrayAsync();
        using var replayed = await edge.Client.SendAsync(delivery.ToRequest());

        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        await AssertReplayAsync(replayed);
        Assert.Equal(2, Volatile.Read(ref received));
    }

    [Fact]
    public async Task GitHub_CapturedDeliveryReplayedAtOtherEdgeWithFreshId_RefusedThroughRedisWithoutRawSignature()
    {
        using var backend = Backend.Start();
        var json = ProxyJsonFor(backend.Url);
        var settings = new Dictionary<string, string?> { ["Edge:Redis"] = redis.Server.ConnectionString };
        await using var first = await EdgeHost.StartAsync(json, settings);
        await using var second = await EdgeHost.StartAsync(json, settings);
        await WaitUntilReadyAsync(first);
        await WaitUntilReadyAsync(second);
        var delivery = Delivery(WebhookSchemes.GitHub);

        using var accepted = await first.Client.SendAsync(delivery.ToRequest());
        using var replayed = await second.Client.SendAsync(delivery.WithHeader("X-GitHub-Delivery", Guid.NewGuid().ToString()).ToRequest());

        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        await AssertReplayAsync(replayed);
        Assert.Single(backend.Received);
        var signatureHex = delivery.Header("X-Hub-Signature-256")!["sha256=".Length..];
        using var connection = redis.Server.Connect();
        var keys = connection.GetServers()[0].Keys(pattern: "edge:webhook:{github}:*").Select(k => (string)k!).ToList();
        Assert.True(keys.Count >= 2, "the delivery id and the signature are both reserved");
        Assert.DoesNotContain(keys, k => k.Contains(signatureHex, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{timestamp}.{body}")]
    [InlineData("{body}")]
    public async Task Generic_IdOrTimestampHeaderNotSigned_CapturedDeliveryWithFreshHeadersRefusedAsReplay(string signedContent)
    {
        // Before, a TimestampHeader turned the signature reservation off whether or not SignedContent held the timestamp
        // and the id: the captured delivery went through again with a fresh X-Delivery-Id (and X-Timestamp).
        using var backend = Backend.Start();
        var secretPath = Path.Combine(_secrets, "unsigned-headers");
        File.WriteAllText(secretPath, WebhookSchemes.GenericSecret);
        var json = ProxyJson.Create(
            backend.Url,
            new Dictionary<string, object> { ["generic"] = ProxyJson.Route("/hooks/partial", new Dictionary<string, string> { ["EdgeWebhook"] = "partial" }) },
            new
            {
                Webhooks = new Dictionary<string, object>
                {
                    ["partial"] = new
                    {
                        Scheme = "Generic",
                        Secrets = new[] { "file:" + secretPath },
                        SignatureHeader = "X-Signature",
                        SignedContent = signedContent,
                        TimestampHeader = "X-Timestamp",
                        IdHeader = "X-Delivery-Id",
                    },
                },
            });
        await using var edge = await EdgeHost.StartAsync(json);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var body = System.Text.Encoding.UTF8.GetBytes("{\"amount\":100}");
        byte[] signed = signedContent.StartsWith("{timestamp}", StringComparison.Ordinal)
            ? [.. System.Text.Encoding.UTF8.GetBytes(now + "."), .. body]
            : body;
        var signature = Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(WebhookSchemes.GenericSecret), signed));
        var delivery = new Delivery("/hooks/partial", body,
        [
            new("X-Signature", signature),
            new("X-Timestamp", now.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new("X-Delivery-Id", "d-1"),
        ]);

        using var first = await edge.Client.SendAsync(delivery.ToRequest());
        var replay = delivery.WithHeader("X-Delivery-Id", "d-2");
        if (signedContent == "{body}")
        {
            replay = replay.WithHeader("X-Timestamp", (now + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        using var replayed = await edge.Client.SendAsync(replay.ToRequest());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await AssertReplayAsync(replayed);
        Assert.Single(backend.Received);
    }

    private static Delivery Delivery(SchemeUnderTest scheme)
    {
        var id = Guid.NewGuid().ToString("N");
        return scheme.Sign(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), id, SchemeUnderTest.Body(id, 1), false);
    }

    private string ProxyJsonFor(string backendUrl) => WebhookEdgeFixture.CreateProxyJson(backendUrl, (name, value) =>
    {
        var path = Path.Combine(_secrets, name);
        File.WriteAllText(path, value);
        return "file:" + path;
    });

    private static async Task AssertReplayAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("replayed_delivery", problem.RootElement.GetProperty("code").GetString());
    }

    private static async Task<string> ReadHeadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[65536];
        var head = "";
        while (!head.Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                break;
            }

            head += System.Text.Encoding.Latin1.GetString(buffer, 0, read);
        }

        return head;
    }

    private static string RequestIdOf(string head) =>
        head.Split("\r\n").Single(l => l.StartsWith("X-Request-Id:", StringComparison.OrdinalIgnoreCase))["X-Request-Id:".Length..].Trim();

    private static Task WaitUntilReadyAsync(EdgeHost edge) => edge.WaitUntilRedisConnectedAsync();
}
