using System.Buffers;
using System.Diagnostics;
using System.Text;
using Edge.Proxy.Configuration;
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
    /// <summary>The reason of a connection that opened with the HTTP/2 preface, refused with Kestrel's GOAWAY and no HTTP answer.</summary>
    public const string Http2PriorKnowledgeReason = "http_version_unsupported:http2_prior_knowledge";

    public static void AddTo(WebApplicationBuilder builder) =>
        builder.Services.AddOptions<KestrelServerOptions>().Configure<ManagementUrls>(
            static (options, management) => KestrelRefusals.AddWriters(options, listen =>
            {
                management.KeepHttp1(listen);
                // Kestrel keeps one endpoint-defaults action, so the body-timeout signal is added in this one too.
                KestrelConnectionAbort.Use(listen);
            }));

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
        var remoteIp = (features[typeof(IHttpConnectionFeature)] as IHttpConnectionFeature)?.RemoteIpAddress;
        var hasForwardedFor = parsed.Headers.TryGetValue(ForwardingHeaders.XForwardedFor, out var forwardedFor);
        var method = parsed.Method;
        var protocol = parsed.Protocol;
        var scheme = parsed.Scheme;
        var status = refusal.Status;
        var reason = refusal.Reason;

        var writer = KestrelRefusals.WriterFor(features, parsed);
        if (writer is null)
        {
            // Kestrel's own answer goes out as it wrote it: the record says its status.
            _ = ObserveAsync(Record(0, reason, refusal.KestrelStatus));
            return;
        }

        var body = new ArrayBufferWriter<byte>(256);
        ProblemDetailsWriter.Write(body, refusal.Status, refusal.Code, refusal.Title, refusal.Detail, path, requestId);
        var headers = Encoding.ASCII.GetBytes(EdgeRequestMiddleware.RequestIdHeader + ": " + requestId + "\r\n");
        Func<bool, Task> sending;
        if (refusal.KestrelStatus == StatusCodes.Status505HttpVersionNotsupported)
        {
            // The request line "PRI * HTTP/2.0" opening a connection (h2c with prior knowledge) is a 505 Kestrel answers
            // with an HTTP/2 GOAWAY (HTTP_1_1_REQUIRED) instead, and the features cannot tell it from "GET / HTTP/2.0":
            // what went out is known only when Kestrel writes it, so the record waits for that.
            // Recorded and counted as 400, as nginx logs the same bytes: the client spoke a protocol this listener does not,
            // like any other line Kestrel cannot parse, and like the 400 any other unknown version gets (KestrelRefusals.Classify).
            sending = answered => ObserveAsync(answered
                ? Record(body.WrittenCount, reason)
                : Record(0, Http2PriorKnowledgeReason, StatusCodes.Status400BadRequest));
        }
        else
        {
            var recorded = ObserveAsync(Record(body.WrittenCount, reason));
            sending = _ => recorded;
        }

        writer.Arm(new KestrelRefusalWriter.Answer(headers, body.WrittenMemory, HttpMethods.IsHead(method), sending,
            status == refusal.KestrelStatus ? null : status));

        // What the record is built from: what was parsed before the refusal, copied at once (Kestrel's features are the
        // connection's, reused by its next request), on a context of its own.
        ValueTask Record(int bytesOut, string recordedReason, int? recordedStatus = null)
        {
            var recorded = recordedStatus ?? status;
            var context = new DefaultHttpContext();
            context.Request.Method = method;
            context.Request.Path = path is null ? PathString.Empty : new PathString(path);
            context.Request.Protocol = protocol;
            context.Request.Scheme = scheme;
            context.Connection.RemoteIpAddress = remoteIp;
            if (hasForwardedFor)
            {
                context.Request.Headers[ForwardingHeaders.XForwardedFor] = forwardedFor;
            }

            context.Response.ContentLength = bytesOut;
            var request = new EdgeRequestFeature
            {
                RequestId = requestId,
                RouteId = null,
                StartedAt = startedAt,
                ClientIp = ClientAddressResolver.Format(context, clientAddresses.Resolve(context)),
            };
            context.SetFeature(request);
            decisions.DenyUnanswered(context, EdgeRequestMiddleware.EdgeStepName, recorded, recordedReason);
            metrics.Request("", "deny", recorded);
            return audit.RecordAsync(context, request);
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
