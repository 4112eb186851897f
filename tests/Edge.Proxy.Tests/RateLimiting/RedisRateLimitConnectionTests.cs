using System.Diagnostics;
using Edge.Proxy.RateLimiting;
using StackExchange.Redis;

namespace Edge.Proxy.Tests.RateLimiting;

/// <summary>
/// Alone: the deadline tests read how late their own wake-ups come, and a pool busy with the tests beside them made
/// every wake-up late, so an unanswered command ran into the busy ceiling (<c>overloaded</c>) before it could be
/// called silent.
/// </summary>
[CollectionDefinition(nameof(RedisRateLimitConnectionTests), DisableParallelization = true)]
public sealed class RedisRateLimitConnectionCollection;

[Collection(nameof(RedisRateLimitConnectionTests))]
public sealed class RedisRateLimitConnectionTests
{
    [Theory]
    [InlineData("MOVED 1234 127.0.0.1:7001", "MOVED")]
    [InlineData("TRYAGAIN Multiple keys request during rehashing of slot", "TRYAGAIN")]
    [InlineData("CLUSTERDOWN The cluster is down", "CLUSTERDOWN")]
    [InlineData("ERR Error running script (call to f_x): @user_script:1: edge:rl:tb:p:{acme:alice} bad", "ERR")]
    [InlineData("edge:rl:tb:p:{acme:alice} is not a code", "other")]
    public void ErrorKind_ServerError_OnlyTheRedisErrorCode(string message, string expected)
    {
        Assert.Equal(expected, RedisRateLimitConnection.ErrorKind(new RedisServerException(RedisErrorKind.Unknown, CommandFlags.None, message)));
    }

    [Fact]
    public void ErrorKind_ClientReshardErrors_NamedWithoutTheirMessage()
    {
        // The client's own texts name the key; only a fixed word is logged.
        Assert.Equal("second-redirection", RedisRateLimitConnection.ErrorKind(new RedisException("Key has MOVED to Endpoint 127.0.0.1:7002 and hashslot 42 but CommandFlags.NoRedirect was specified - redirect not followed for EVALSHA edge:rl:tb:p:{acme:alice}")));
        Assert.Equal("second-redirection", RedisRateLimitConnection.ErrorKind(new RedisConnectionException(ConnectionFailureType.UnableToConnect, CommandFlags.None, "Endpoint 127.0.0.1:7002 serving hashslot 42 is not reachable at this point of time.", null, CommandStatus.Sent)));
        Assert.Equal("SocketFailure", RedisRateLimitConnection.ErrorKind(new RedisConnectionException(ConnectionFailureType.SocketFailure, CommandFlags.None, "SocketFailure on EVALSHA edge:rl:tb:p:{acme:alice}")));
        Assert.Equal("timeout", RedisRateLimitConnection.ErrorKind(new RedisTimeoutException(CommandFlags.None, "Timeout awaiting response (key edge:rl:tb:p:{acme:alice})", CommandStatus.Sent)));
        Assert.Equal("none", RedisRateLimitConnection.ErrorKind(null));
    }

    [Fact]
    public async Task AwaitAnswerAsync_AnswerReadButContinuationQueuedPastTheCeiling_WaitsForTheContinuation()
    {
        using var services = new RateLimitTestServices();
        var node = services.Connection.Breaker;
        var watch = new RedisCommandWatch();
        watch.Sent(Task.FromResult(RedisResult.Create(1)));
        var continuation = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Sent longer ago than the busy ceiling, answered by Redis, its continuation still queued on this edge's thread
        // pool (an edge offered more than it turns around). Before, the first wake-up answered overloaded, and every
        // such decision fell back while Redis was answering.
        var sentAt = Stopwatch.GetTimestamp() - (long)((RedisRateLimitConnection.BusyCeiling.TotalSeconds + 1) * Stopwatch.Frequency);

        var waiting = services.Connection.AwaitAnswerAsync(node, continuation.Task, watch, sentAt, TimeSpan.FromMilliseconds(50)).AsTask();
        await Task.Delay(200);
        var gaveUpEarly = waiting.IsCompleted;
        continuation.SetResult();
        var reason = await waiting;

        Assert.False(gaveUpEarly, $"gave up with {reason}");
        Assert.Equal(RateLimitFallbackReason.None, reason);
    }

    [Fact]
    public async Task AwaitAnswerAsync_AnswerReadButContinuationQueuedForManyDeadlines_NeverNoAnswer()
    {
        using var services = new RateLimitTestServices();
        var watch = new RedisCommandWatch();
        watch.Sent(Task.FromResult(RedisResult.Create(1)));
        var continuation = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // 15 deadlines without any other answer on the node: before, silence as far as the limiter could see (the
        // client's completion counters stay at 0 in StackExchange.Redis 3.4), so no_answer.
        var waiting = services.Connection.AwaitAnswerAsync(services.Connection.Breaker, continuation.Task, watch, Stopwatch.GetTimestamp(), TimeSpan.FromMilliseconds(20)).AsTask();
        await Task.Delay(300);
        var gaveUpEarly = waiting.IsCompleted;
        continuation.SetResult();
        var reason = await waiting;

        Assert.False(gaveUpEarly, $"gave up with {reason}");
        Assert.Equal(RateLimitFallbackReason.None, reason);
    }

    [Fact]
    public async Task AwaitAnswerAsync_CommandOnTheWireUnanswered_NoAnswerAfterTheDeadline()
    {
        using var services = new RateLimitTestServices();
        var watch = new RedisCommandWatch();
        var silent = new TaskCompletionSource<RedisResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        watch.Sent(silent.Task);
        var deadline = TimeSpan.FromMilliseconds(50);
        var watchTime = Stopwatch.StartNew();

        var reason = await services.Connection.AwaitAnswerAsync(services.Connection.Breaker, silent.Task, watch, Stopwatch.GetTimestamp(), deadline);

        Assert.Equal(RateLimitFallbackReason.NoAnswer, reason);
        Assert.True(watchTime.Elapsed >= deadline, $"gave up after {watchTime.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(watchTime.Elapsed < RedisRateLimitConnection.BusyCeiling, $"gave up after {watchTime.Elapsed.TotalMilliseconds:F0} ms");
    }
}
