using System.Reflection;
using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Edge.Proxy.Tests.Pipeline;

/// <summary>
/// Kestrel says why it aborted a slow reader's connection only in a fixed English message. When a Kestrel update
/// changes it, this fails, instead of every such response quietly being recorded as the client's abort.
/// </summary>
public sealed class ServerAbortsTests
{
    [Fact]
    public void ResponseDataRateMessage_IsKestrelsOwnText()
    {
        var text = typeof(KestrelServerOptions).Assembly.GetType("Microsoft.AspNetCore.Server.Kestrel.Core.CoreStrings")
            ?.GetProperty("ConnectionTimedBecauseResponseMininumDataRateNotSatisfied", BindingFlags.Static | BindingFlags.NonPublic)
            ?.GetValue(null);

        Assert.Equal(ServerAborts.ResponseDataRateMessage, text);
    }

    [Fact]
    public async Task DrainEnded_ReadByACallbackRegisteredOnTheStopTokenAfterStopping_True()
    {
        // Kestrel registers on the host's stop token after StoppingAsync ran, and a token runs its callbacks last
        // registered first: Kestrel's abort of the connections still serving, and the requests' records that it sets
        // off, came before a flag set by a callback of ours, and a request the shutdown cut off was recorded as its
        // client's abort (499 client_aborted instead of 503 server_shutdown).
        var aborts = new ServerAborts();
        using var stop = new CancellationTokenSource();
        await aborts.StoppingAsync(stop.Token);
        bool? seenByKestrelsCallback = null;
        using var kestrel = stop.Token.Register(() => seenByKestrelsCallback = aborts.DrainEnded);

        Assert.False(aborts.DrainEnded);
        await stop.CancelAsync();
        await aborts.StoppedAsync(CancellationToken.None);

        Assert.True(seenByKestrelsCallback);
        Assert.True(aborts.DrainEnded);
    }

    [Fact]
    public async Task DrainEnded_StopThatDrainedInTime_False()
    {
        var aborts = new ServerAborts();
        using (var stop = new CancellationTokenSource())
        {
            await aborts.StoppingAsync(stop.Token);
        }

        await aborts.StoppedAsync(CancellationToken.None);

        Assert.False(aborts.DrainEnded);
    }
}
