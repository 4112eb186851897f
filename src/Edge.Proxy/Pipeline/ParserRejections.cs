using System.Buffers;
using System.Diagnostics;
using System.Text;
using Edge.Proxy.Observability;
using Edge.Shared;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Audits and answers what Kestrel's parser refuses before any middleware runs (<see cref="KestrelRefusals"/>): a record
/// with no route, step <see cref="EdgeRequestMiddleware.EdgeStepName"/>, deny and the refusal's reason, and on a plaintext
/// HTTP/1.x connection the same problem+json with a request id every other refusal gets, sent once the record is written.
/// Connections to an endpoint where Kestrel terminates TLS, and HTTP/2 streams Kestrel answers itself, keep Kestrel's
/// empty answer and are audited all the same (a stream Kestrel resets instead raises no event).
/// </summary>
internal sealed partial class ParserRejections(
    ClientAddressResolver clientAddresses, EdgeDecisions decisions, IAuditSink audit, EdgeMetrics metrics, TimeProvider time, ILogger<ParserRejections> logger)
    : IObserver<KeyValuePair<string, object?>>
{
    public static void AddTo(WebApplicationBuilder builder) =>
        builder.Services.Configure<KestrelServerOptions>(KestrelRefusals.AddWriters);

    /// <summary>Subscribes to the host's listener for the application's lifetime.</summary>
    public static void Subscribe(WebApplication app)
    {
        var subscription = app.Services.GetRequiredService<DiagnosticListener>()
            .Subscribe(app.Services.GetRequiredService<ParserRejections>(), KestrelRefusals.IsEnabled);
        app.Lifetime.ApplicationStopped.Register(subscription.Dispose);
    }

    public void OnNext(KeyValuePair<string, object?> value)
    {
        try
        {
            // A request the edge's middleware took (a body Kestrel refused mid-read) has its own record and answer.
            if (KestrelRefusals.TryRead(value, out var features, out var refusal, out var parsed) && features[typeof(EdgeRequestFeature)] is null)
            {
                Reject(features, refusal, parsed);
            }
        }
        catch (Exception exception)
        {
            // Kestrel's own answer still goes out; only the record and the problem body are lost.
            Log.RejectionNotRecorded(logger, exception);
        }
    }

    public void OnError(Exception error)
    {
    }

    public void OnCompleted()
    {
    }

    private void Reject(IFeatureCollection features, in KestrelRefusal refusal, IHttpRequestFeature parsed)
    {
        var startedAt = time.GetUtcNow();
        var requestId = RequestIds.NewId(startedAt);
        var path = string.IsNullOrEmpty(parsed.Path) ? null : parsed.Path;

        var writer = KestrelRefusals.WriterFor(features, parsed);
        ArrayBufferWriter<byte>? body = null;
        if (writer is not null)
        {
            body = new ArrayBufferWriter<byte>(256);
            ProblemDetailsWriter.Write(body, refusal.Status, refusal.Code, refusal.Title, refusal.Detail, path, requestId);
        }

        // What the record is built from: what was parsed before the refusal, on a context of its own (Kestrel's features
        // are the connection's, reused by its next request).
        var context = new DefaultHttpContext();
        context.Request.Method = parsed.Method;
        context.Request.Path = path is null ? PathString.Empty : new PathString(path);
        context.Request.Protocol = parsed.Protocol;
        context.Connection.RemoteIpAddress = (features[typeof(IHttpConnectionFeature)] as IHttpConnectionFeature)?.RemoteIpAddress;
        if (parsed.Headers.TryGetValue(ForwardingHeaders.XForwardedFor, out var forwardedFor))
        {
            context.Request.Headers[ForwardingHeaders.XForwardedFor] = forwardedFor;
        }

        context.Response.ContentLength = body?.WrittenCount ?? 0;
        var request = new EdgeRequestFeature
        {
            RequestId = requestId,
            RouteId = null,
            StartedAt = startedAt,
            ClientIp = ClientAddressResolver.Format(context, clientAddresses.Resolve(context)),
        };
        context.SetFeature(request);
        decisions.DenyUnanswered(context, EdgeRequestMiddleware.EdgeStepName, refusal.Status, refusal.Reason);
        metrics.Request("", "deny", refusal.Status);

        var recorded = ObserveAsync(audit.RecordAsync(context, request));
        if (writer is not null)
        {
            var headers = Encoding.ASCII.GetBytes(EdgeRequestMiddleware.RequestIdHeader + ": " + requestId + "\r\n");
            writer.Arm(new KestrelRefusalWriter.Answer(headers, body!.WrittenMemory, HttpMethods.IsHead(parsed.Method), recorded));
        }
    }

    private async Task ObserveAsync(ValueTask recorded)
    {
        try
        {
            await recorded;
        }
        catch (Exception exception)
        {
            Log.RejectionNotRecorded(logger, exception);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1003, LogLevel.Error, "A request Kestrel refused could not be audited")]
        public static partial void RejectionNotRecorded(ILogger logger, Exception exception);
    }
}
