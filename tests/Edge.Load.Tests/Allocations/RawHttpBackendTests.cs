using System.Net.Sockets;
using System.Text;
using Edge.Load.Allocations;

namespace Edge.Load.Tests.Allocations;

// Alone: the allocation test reads the process's allocated bytes, which tests running beside it would add to.
[CollectionDefinition(nameof(RawHttpBackendTests), DisableParallelization = true)]
public sealed class RawHttpBackendCollection;

[Collection(nameof(RawHttpBackendTests))]
public sealed class RawHttpBackendTests
{
    private static readonly byte[] Body = """{"ok":true}"""u8.ToArray();

    [Fact]
    public async Task Start_SequentialGetsOnOneConnection_EachAnswered200()
    {
        await using var backend = RawHttpBackend.Start(Body);
        await using var connection = await RawHttpConnection.OpenAsync(backend.Port, "/fast", [new("X-Tenant-ID", "acme")], CancellationToken.None);

        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(200, await connection.SendAsync(CancellationToken.None));
        }
    }

    [Fact]
    public async Task Start_RequestsWithManyHeaders_AllocateNoMoreThanWithout()
    {
        // The property the harness relies on: what a proxy forwards costs the backend nothing, so the difference in
        // process bytes between two targets is the proxies' own.
        await using var backend = RawHttpBackend.Start(Body);
        var headers = Enumerable.Range(0, 12).Select(i => KeyValuePair.Create($"X-Forwarded-Thing-{i}", new string('v', 40 + i))).ToList();
        await using var plain = await RawHttpConnection.OpenAsync(backend.Port, "/fast", [], CancellationToken.None);
        await using var loaded = await RawHttpConnection.OpenAsync(backend.Port, "/fast", headers, CancellationToken.None);

        // The least of three rounds each: a background allocation (a timer, the test host) only ever adds.
        var withoutHeaders = double.MaxValue;
        var withHeaders = double.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            withoutHeaders = Math.Min(withoutHeaders, await BytesPerRequestAsync(plain));
            withHeaders = Math.Min(withHeaders, await BytesPerRequestAsync(loaded));
        }

        // A backend that turned the 12 headers into strings would allocate about 2 KB more per request (names of ~20 and
        // values of ~45 characters); the process-wide counter also sees whatever else the test host allocates meanwhile,
        // which once added 40 B per request to one side on a loaded CI host (the bound was 16 B then).
        Assert.True(withHeaders - withoutHeaders < 256, $"{withHeaders:F0} B per request with 12 headers against {withoutHeaders:F0} without");
    }

    [Fact]
    public async Task Start_RequestWithABody_ConnectionClosedUnanswered()
    {
        await using var backend = RawHttpBackend.Start(Body);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, backend.Port, CancellationToken.None);

        await socket.SendAsync(Encoding.ASCII.GetBytes("POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"), SocketFlags.None, CancellationToken.None);
        var buffer = new byte[256];
        var read = await socket.ReceiveAsync(buffer, SocketFlags.None, CancellationToken.None);

        Assert.Equal(0, read);
    }

    private static async Task<double> BytesPerRequestAsync(RawHttpConnection connection)
    {
        const int Requests = 2000;
        for (var i = 0; i < 200; i++)
        {
            await connection.SendAsync(CancellationToken.None);
        }

        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < Requests; i++)
        {
            Assert.Equal(200, await connection.SendAsync(CancellationToken.None));
        }

        return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)Requests;
    }
}
