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
}
