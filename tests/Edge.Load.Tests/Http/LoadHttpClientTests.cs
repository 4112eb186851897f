using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Edge.Load.Http;

namespace Edge.Load.Tests.Http;

public sealed class LoadHttpClientTests
{
    private static readonly HashSet<int> Ok = [200];

    [Fact]
    public void DefaultMaxConnectionsPerServer_OnLinux_StaysBelowTheOpenFileLimit()
    {
        // Unbounded, an open model above capacity used up every descriptor and the runtime aborted ("Out of memory.").
        var limit = File.ReadLines("/proc/self/limits").Single(static l => l.StartsWith("Max open files", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[3];
        using var handler = LoadHttpClient.CreateHandler(LoadHttpClient.DefaultMaxConnectionsPerServer());

        Assert.True(handler.MaxConnectionsPerServer < long.Parse(limit, CultureInfo.InvariantCulture), $"cap {handler.MaxConnectionsPerServer}, limit {limit}");
    }

    [Theory]
    [InlineData(1024L, 768)]
    [InlineData(20000L, 18000)]
    [InlineData(100L, 16)]
    public void ConnectionCap_OpenFileLimit_LeavesAReserve(long limit, int expected)
    {
        Assert.Equal(expected, LoadHttpClient.ConnectionCap(limit));
    }

    [Fact]
    public void ConnectionCap_NoLimitKnown_IsUncapped()
    {
        Assert.Equal(int.MaxValue, LoadHttpClient.ConnectionCap(null));
    }

    [Fact]
    public async Task SendAsync_MoreConcurrentRequestsThanTheCap_OpensNoMoreConnectionsThanTheCap()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = new List<Socket>();
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var socket = await listener.AcceptSocketAsync(stop.Token);
                    lock (accepted)
                    {
                        accepted.Add(socket);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // The test is done.
            }
        });
        int Accepted()
        {
            lock (accepted)
            {
                return accepted.Count;
            }
        }

        var url = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
        using var client = LoadHttpClient.Create(TimeSpan.FromSeconds(5), maxConnectionsPerServer: 2);

        // The server never answers, so every request holds its connection; uncapped, all six connected at once.
        var sending = Task.WhenAll(Enumerable.Range(0, 6).Select(_ =>
            HttpStep.SendAsync(client, new HttpRequestMessage(HttpMethod.Get, url), Ok, CancellationToken.None)));
        for (var i = 0; i < 200 && Accepted() < 2; i++)
        {
            await Task.Delay(50);
        }

        await Task.Delay(500);
        var connections = Accepted();

        await stop.CancelAsync();
        await accepting;
        listener.Stop();
        lock (accepted)
        {
            accepted.ForEach(static s => s.Dispose());
        }

        var responses = await sending;
        Assert.Equal(2, connections);
        Assert.All(responses, static r => Assert.False(r.IsOk));
    }
}
