using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Edge.Shared;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Edge.AuditWriter.Hosting;

/// <summary>
/// Answers what Kestrel's parser refuses before the writer's endpoints run (<see cref="KestrelRefusals"/>) with the
/// writer's own problem+json (a stable <c>code</c>, <c>requestId</c> the request's TraceIdentifier as in every other
/// problem of the writer) instead of Kestrel's empty 4xx. HTTP/2 streams and Kestrel-terminated TLS keep Kestrel's answer.
/// </summary>
internal sealed partial class KestrelRefusalAnswers(ILogger<KestrelRefusalAnswers> logger) : IObserver<KeyValuePair<string, object?>>
{
    public static void AddTo(WebApplicationBuilder builder) =>
        builder.Services.Configure<KestrelServerOptions>(KestrelRefusals.AddWriters);

    /// <summary>Subscribes to the host's listener for the application's lifetime.</summary>
    public static void Subscribe(WebApplication app)
    {
        var subscription = app.Services.GetRequiredService<DiagnosticListener>()
            .Subscribe(new KestrelRefusalAnswers(app.Services.GetRequiredService<ILogger<KestrelRefusalAnswers>>()), KestrelRefusals.IsEnabled);
        app.Lifetime.ApplicationStopped.Register(subscription.Dispose);
    }

    public void OnNext(KeyValuePair<string, object?> value)
    {
        try
        {
            Answer(value);
        }
        catch (Exception exception)
        {
            // Kestrel's own empty answer still goes out.
            Log.AnswerFailed(logger, exception);
        }
    }

    private static void Answer(KeyValuePair<string, object?> value)
    {
        if (!KestrelRefusals.TryRead(value, out var features, out var refusal, out var parsed)
            || KestrelRefusals.WriterFor(features, parsed) is not { } writer)
        {
            return;
        }

        var requestId = (features[typeof(IHttpRequestIdentifierFeature)] as IHttpRequestIdentifierFeature)?.TraceIdentifier ?? "";
        var body = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("type", "urn:edge:problem:" + refusal.Code);
            json.WriteString("title", refusal.Title);
            json.WriteNumber("status", refusal.Status);
            json.WriteString("detail", refusal.Detail);
            if (!string.IsNullOrEmpty(parsed.Path))
            {
                json.WriteString("instance", parsed.Path);
            }

            json.WriteString("code", refusal.Code);
            json.WriteString("requestId", requestId);
            json.WriteEndObject();
        }

        writer.Arm(new KestrelRefusalWriter.Answer(ReadOnlyMemory<byte>.Empty, body.WrittenMemory, HttpMethods.IsHead(parsed.Method), static _ => Task.CompletedTask,
            refusal.Status == refusal.KestrelStatus ? null : refusal.Status));
    }

    public void OnError(Exception error)
    {
    }

    public void OnCompleted()
    {
    }

    private static partial class Log
    {
        [LoggerMessage(2180, LogLevel.Error, "The problem+json answer to a request Kestrel refused could not be prepared; Kestrel's own answer was sent")]
        public static partial void AnswerFailed(ILogger logger, Exception exception);
    }
}
