using System.Diagnostics;
using Edge.Proxy.Redis;
using Edge.Testing;
using StackExchange.Redis;

namespace Edge.Proxy.Tests.Redis;

/// <summary>Alone: the test saturates the process's thread pool, which would stall every test running beside it.</summary>
[CollectionDefinition(nameof(EdgeRedisTests), DisableParallelization = true)]
public sealed class EdgeRedisCollection;

[Collection(nameof(EdgeRedisTests))]
public sealed class EdgeRedisTests
{
    [Fact]
    public async Task ConnectAsync_ThreadPoolSaturated_AnswersAreStillRead()
    {
        await using var server = await RedisServer.StartAsync();
        using var redis = new EdgeRedis(server.ConnectionString);
        var database = (await redis.ConnectAsync())!.GetDatabase();
        await database.PingAsync();

        // Every pool thread blocked, as on an edge whose pool queue is seconds long. The client's reader used to be a
        // pool work item: the answer waited in the socket, and the rate limiter could not tell that from a silent
        // server. Now the reader is a thread of the client's own.
        var answeredWhileSaturated = SendWhileThreadPoolSaturated(database, TimeSpan.FromSeconds(1));

        Assert.NotNull(answeredWhileSaturated);
        Assert.True(answeredWhileSaturated < TimeSpan.FromSeconds(1), $"answered after {answeredWhileSaturated?.TotalMilliseconds:F0} ms");
        Assert.Equal(1, await database.StringGetAsync("saturated"));
    }

    /// <summary>How long an INCR took to be answered while the pool was saturated, or null if not within <paramref name="saturation"/>.</summary>
    private static TimeSpan? SendWhileThreadPoolSaturated(IDatabase database, TimeSpan saturation)
    {
        ThreadPool.GetMinThreads(out var minWorkers, out var minIo);
        ThreadPool.GetMaxThreads(out var maxWorkers, out var maxIo);
        // Not disposed: blocked work items still wait on it after this method returns.
        var release = new ManualResetEventSlim();
        TimeSpan? answeredAfter = null;
        try
        {
            Assert.True(ThreadPool.SetMinThreads(1, minIo));
            Assert.True(ThreadPool.SetMaxThreads(Environment.ProcessorCount, maxIo));
            var sender = new Thread(() =>
            {
                for (var i = 0; i < 4 * Environment.ProcessorCount; i++)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(_ => release.Wait(), null);
                }

                Thread.Sleep(50);
                var watch = Stopwatch.StartNew();
                var command = database.StringIncrementAsync("saturated");
                while (watch.Elapsed < saturation && !command.IsCompleted)
                {
                    Thread.Sleep(1);
                }

                answeredAfter = command.IsCompleted ? watch.Elapsed : null;
                release.Set();
            });
            sender.Start();
            sender.Join();
        }
        finally
        {
            release.Set();
            ThreadPool.SetMaxThreads(maxWorkers, maxIo);
            ThreadPool.SetMinThreads(minWorkers, minIo);
        }

        return answeredAfter;
    }
}
