using Edge.Proxy.RateLimiting;
using StackExchange.Redis;

namespace Edge.Proxy.Tests.RateLimiting;

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
}
