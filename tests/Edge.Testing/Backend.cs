using WireMock.Logging;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Edge.Testing;

/// <summary>A WireMock.Net backend that answers every request and records what it received.</summary>
public sealed class Backend : IDisposable
{
    private Backend(WireMockServer server) => Server = server;

    public WireMockServer Server { get; }

    public string Url => Server.Urls[0].TrimEnd('/') + "/";

    public IReadOnlyList<ILogEntry> Received => Server.LogEntries.ToList();

    public static Backend Start(int status = 200, string body = "backend-ok")
    {
        var server = WireMockServer.Start();
        server.Given(Request.Create().UsingAnyMethod())
            .RespondWith(Response.Create().WithStatusCode(status).WithHeader("Content-Type", "text/plain").WithBody(body));
        return new Backend(server);
    }

    public void Dispose() => Server.Stop();
}
