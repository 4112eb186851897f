using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// Protocol upgrades (HTTP/1.1 <c>Upgrade</c>: WebSocket, and SPDY, which YARP tunnels too) against a backend that accepts them. On a route whose steps read the body
/// the edge checked an empty body and would then relay every byte after the 101 unread, so it refuses the upgrade; a
/// route without such a step still forwards WebSockets.
/// </summary>
public sealed class ProtocolUpgradeTests(ProtocolUpgradeTests.UpgradeEdge fixture) : IClassFixture<ProtocolUpgradeTests.UpgradeEdge>
{
    [Theory]
    [InlineData("websocket")]
    [InlineData("SPDY/3.1")]
    public async Task Upgrade_RouteWithBodyValidation_Returns400UpgradeRefusedAndBackendNeverReached(string protocol)
    {
        var path = "/validated/ws-" + Guid.NewGuid().ToString("N");

        var (head, tunnelled) = await fixture.UpgradeAsync(path, protocol, "{\"amount\":-1,\"unchecked\":true}");

        Assert.StartsWith("HTTP/1.1 400 ", head, StringComparison.Ordinal);
        Assert.Contains("application/problem+json", head, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"upgrade_refused\"", head, StringComparison.Ordinal);
        Assert.False(fixture.BackendSaw(path), "the upgrade reached the backend");
        Assert.DoesNotContain(fixture.Tunnelled, bytes => bytes.Contains("unchecked", StringComparison.Ordinal));
        Assert.Equal("", tunnelled);
        var audit = await fixture.AuditDataAsync(RequestId(head));
        Assert.Equal(400, audit.GetProperty("status").GetInt32());
        Assert.Equal("deny", audit.GetProperty("decision").GetString());
        Assert.Equal("upgrade_refused", audit.GetProperty("reason").GetString());
        Assert.Equal("EdgeValidate", audit.GetProperty("step").GetString());
    }

    [Fact]
    public async Task Upgrade_RouteWithoutBodyStep_ForwardedAndSwitched()
    {
        var path = "/open/ws-" + Guid.NewGuid().ToString("N");

        var (head, tunnelled) = await fixture.UpgradeAsync(path, "websocket", "hello-frame");

        Assert.StartsWith("HTTP/1.1 101 ", head, StringComparison.Ordinal);
        Assert.True(fixture.BackendSaw(path));
        Assert.Equal("ECHO:hello-frame", tunnelled);
    }

    [Fact]
    public async Task Upgrade_RouteWithAuthentication_WithoutKey_Returns401AndTheConnectionStaysHttp()
    {
        var path = "/keys/ws-" + Guid.NewGuid().ToString("N");
        var next = "/open/after-refusal-" + Guid.NewGuid().ToString("N");

        var (refusal, after) = await fixture.RefusedUpgradeThenAsync(path, "", $"GET {next} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 401 ", refusal, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"authentication_required\"", refusal, StringComparison.Ordinal);
        Assert.False(fixture.BackendSaw(path), "the refused upgrade reached the backend");
        Assert.StartsWith("HTTP/1.1 200 ", after, StringComparison.Ordinal);
        Assert.True(fixture.BackendSaw(next), "the request after the refusal was not read as a request");
        var audit = await fixture.AuditDataAsync(RequestId(refusal));
        Assert.Equal((401, "deny", "EdgeAuthenticate"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString()));
    }

    [Fact]
    public async Task Upgrade_RouteWithAuthentication_WithKey_SwitchedAndRecordedAs101WithThePrincipal()
    {
        var path = "/keys/ws-" + Guid.NewGuid().ToString("N");

        var (head, tunnelled) = await fixture.UpgradeAsync(path, "websocket", "hello-frame", $"X-Api-Key: {UpgradeEdge.ApiKey}\r\n");

        Assert.StartsWith("HTTP/1.1 101 ", head, StringComparison.Ordinal);
        Assert.Equal("ECHO:hello-frame", tunnelled);
        var audit = await fixture.AuditDataAsync(RequestId(head));
        Assert.Equal((101, "allow"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString()));
        Assert.Equal("ws-client", audit.GetProperty("subject").GetProperty("principal").GetString());
    }

    [Fact]
    public async Task Upgrade_RateLimitedRoute_SecondUpgradeRefused429AndNotForwarded()
    {
        var client = $"X-Client: {Guid.NewGuid():N}\r\n";
        var firstPath = "/limited/ws-" + Guid.NewGuid().ToString("N");
        var secondPath = "/limited/ws-" + Guid.NewGuid().ToString("N");

        var (first, _) = await fixture.UpgradeAsync(firstPath, "websocket", "one", client);
        var (second, tunnelled) = await fixture.UpgradeAsync(secondPath, "websocket", "two", client);

        Assert.StartsWith("HTTP/1.1 101 ", first, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 429 ", second, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"rate_limited\"", second, StringComparison.Ordinal);
        Assert.Equal("", tunnelled);
        Assert.False(fixture.BackendSaw(secondPath), "the limited upgrade reached the backend");
    }

    private static string RequestId(string head) =>
        head.Split("\r\n").First(l => l.StartsWith("X-Request-Id:", StringComparison.OrdinalIgnoreCase))["X-Request-Id:".Length..].Trim();

    /// <summary>An edge in front of a raw TCP backend that answers every upgrade with 101 and echoes what follows.</summary>
    public sealed class UpgradeEdge : IAsyncLifetime
    {
        private readonly TcpListener _backend = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentQueue<string> _requestLines = new();
        private Task _accepting = Task.CompletedTask;

        public const string ApiKey = "upgrade-suite-api-key-7c4a";

        public EdgeHost Edge { get; private set; } = null!;

        public ConcurrentQueue<string> Tunnelled { get; } = new();

        public async Task InitializeAsync()
        {
            _backend.Start();
            _accepting = AcceptAsync();
            var backendUrl = $"http://127.0.0.1:{((IPEndPoint)_backend.LocalEndpoint).Port}/";
            Edge = await EdgeHost.StartAsync(ProxyJson.Create(
                backendUrl,
                new Dictionary<string, object>
                {
                    ["validated"] = ProxyJson.Route("/validated/{**rest}", new Dictionary<string, string> { ["EdgeValidate"] = "json-only" }),
                    ["open"] = ProxyJson.Route("/open/{**rest}"),
                    ["keys"] = ProxyJson.Route("/keys/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "partner-keys" }),
                    ["limited"] = ProxyJson.Route("/limited/{**rest}", new Dictionary<string, string> { ["EdgeRateLimit"] = "one-per-client" }),
                },
                new
                {
                    Authentication = new Dictionary<string, object>
                    {
                        ["partner-keys"] = new
                        {
                            Type = "ApiKey",
                            Keys = new object[] { new { Sha256 = HostileEdge.Sha256Hex(ApiKey), Principal = "ws-client", Tenant = "acme" } },
                        },
                    },
                    RateLimits = new Dictionary<string, object> { ["one-per-client"] = new { Limit = 1, Window = "01:00:00", Key = "{header:X-Client}" } },
                    Validation = new Dictionary<string, object>
                    {
                        ["json-only"] = new { MaxBodyBytes = 1024, ContentTypes = new[] { "application/json" } },
                    },
                }));
        }

        public async Task DisposeAsync()
        {
            await Edge.DisposeAsync();
            await _stop.CancelAsync();
            _backend.Stop();
            await _accepting.ContinueWith(_ => { }, TaskScheduler.Default);
            _stop.Dispose();
        }

        public bool BackendSaw(string path) => _requestLines.Any(l => l.Contains(path, StringComparison.Ordinal));

        /// <summary>Sends an upgrade to <paramref name="protocol"/>, then <paramref name="frame"/>; returns the answer's head (and body) and what came back after it.</summary>
        public async Task<(string Head, string Tunnelled)> UpgradeAsync(string path, string protocol, string frame, string headers = "")
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await client.ConnectAsync(IPAddress.Loopback, Edge.ProxyPort, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync(UpgradeRequest(path, protocol, headers), timeout.Token);
            var head = await ReadHeadAsync(stream, timeout.Token);
            if (!head.StartsWith("HTTP/1.1 101 ", StringComparison.Ordinal))
            {
                // A refused upgrade is an ordinary answer: anything sent now is a new request, never a tunnel.
                return (head, "");
            }

            await stream.WriteAsync(Encoding.ASCII.GetBytes(frame), timeout.Token);
            var echoed = await ReadAsync(stream, s => s.Length >= "ECHO:".Length + frame.Length, timeout.Token);
            return (head, echoed);
        }

        /// <summary>
        /// Sends an upgrade that is refused, then <paramref name="next"/> on the same connection; returns both answers. The
        /// second shows the connection stayed HTTP: its bytes were read as a request, not relayed.
        /// </summary>
        public async Task<(string Refusal, string Next)> RefusedUpgradeThenAsync(string path, string headers, string next)
        {
            using var client = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await client.ConnectAsync(IPAddress.Loopback, Edge.ProxyPort, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync(UpgradeRequest(path, "websocket", headers), timeout.Token);
            var refusal = await ReadHeadAsync(stream, timeout.Token);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(next), timeout.Token);
            return (refusal, await ReadHeadAsync(stream, timeout.Token));
        }

        private static byte[] UpgradeRequest(string path, string protocol, string headers) =>
            Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: {protocol}\r\n"
                + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + headers + "\r\n");

        private static Task<string> ReadHeadAsync(NetworkStream stream, CancellationToken cancellationToken) =>
            ReadAsync(stream, s => s.Contains("\r\n\r\n", StringComparison.Ordinal)
                && (!s.Contains("Content-Length:", StringComparison.OrdinalIgnoreCase) || s.EndsWith('}')), cancellationToken);

        /// <summary>The audit record's <c>data</c> for <paramref name="requestId"/> from the edge's local decision file.</summary>
        public Task<JsonElement> AuditDataAsync(string requestId) => Edge.LocalAuditDataAsync(requestId);

        private static async Task<string> ReadAsync(NetworkStream stream, Func<string, bool> complete, CancellationToken cancellationToken)
        {
            var text = new StringBuilder();
            var buffer = new byte[4096];
            while (!complete(text.ToString()))
            {
                var read = await stream.ReadAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                text.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }

            return text.ToString();
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                var connection = await _backend.AcceptTcpClientAsync(_stop.Token);
                _ = ServeAsync(connection);
            }
        }

        private async Task ServeAsync(TcpClient connection)
        {
            using (connection)
            {
                try
                {
                    var stream = connection.GetStream();
                    var head = await ReadAsync(stream, s => s.Contains("\r\n\r\n", StringComparison.Ordinal), _stop.Token);
                    _requestLines.Enqueue(head.Split("\r\n")[0]);
                    var upgrade = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Upgrade:", StringComparison.OrdinalIgnoreCase));
                    if (upgrade is null)
                    {
                        await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray(), _stop.Token);
                        return;
                    }

                    // A WebSocket server answers with the accept of the request's key (RFC 6455 section 4.2.2); SPDY has none.
                    var key = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase))?.Split(':', 2)[1].Trim();
                    var accept = key is null ? "" : "\r\nSec-WebSocket-Accept: " + Convert.ToBase64String(System.Security.Cryptography.SHA1.HashData(
                        Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n{upgrade}{accept}\r\n\r\n"), _stop.Token);
                    var buffer = new byte[4096];
                    int read;
                    while ((read = await stream.ReadAsync(buffer, _stop.Token)) > 0)
                    {
                        var bytes = Encoding.ASCII.GetString(buffer, 0, read);
                        Tunnelled.Enqueue(bytes);
                        await stream.WriteAsync(Encoding.ASCII.GetBytes("ECHO:" + bytes), _stop.Token);
                    }
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
                {
                    // The edge or the test closed the connection.
                }
            }
        }
    }
}
