using Edge.Configuration;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Buffers the raw body of a route whose steps read it (<see cref="IEdgeBodyRequirement"/>), under the route's own cap,
/// as the request transform just before the first step that reads it. The steps listed before that one decide on the
/// headers alone, so a request they refuse (no credential, no tenant, a ban) is answered without its body being read:
/// no interim 100 Continue, no buffered upload for an unauthenticated client. The forwarder reads <c>Request.Body</c>
/// only when it sends, so replacing it here is what the backend receives: a stream over exactly the buffered bytes,
/// with <c>Content-Length</c> set, whether the client sent a length, chunks (HTTP/1.1) or DATA frames (HTTP/2). So the
/// bytes a step verified are the bytes the backend receives. A body over the cap gets 413 and is never forwarded; a
/// protocol upgrade (WebSocket) gets 400 <c>upgrade_refused</c>, since what follows it would never be read. Before a step
/// that reads form-encoded bodies only (<c>EdgeAuthenticate</c>, <see cref="EdgeBodyRequirement.FormOnly"/>) other
/// bodies are left unread. A buffered form whose <c>_method</c> names another method is refused
/// (<see cref="MethodOverrideParameter"/>).
/// </summary>
internal sealed partial class EdgeBodyBufferingTransform(EdgeBodyBufferingTransform.BodyPlan plan, bool onlyForm, EdgeDecisions decisions, ILogger logger)
    : RequestTransform
{
    private const int InitialBufferSize = 16 * 1024;

    // Below the large object heap's 85,000 bytes: most webhook and JSON bodies fit at once, and a short-lived buffer dies young.
    private const int MaxUpFrontBufferSize = 64 * 1024;

    private static readonly EdgeDenial UpgradeRefused = new(StatusCodes.Status400BadRequest, UpgradeRefusedCode, "Upgrade refused",
        "This route checks request bodies, so the edge does not switch protocols (WebSocket, SPDY) on it.");

    public const string BodyInvalidCode = "body_invalid";
    public const string BodyTooLargeCode = "body_too_large";
    public const string UpgradeRefusedCode = "upgrade_refused";
    public const string BodyTimeoutCode = "body_timeout";

    private const string ClientAbortedReason = BodyInvalidCode + ":client_aborted";
    private const string MalformedFramingReason = BodyInvalidCode + ":malformed_framing";

    /// <summary>Recorded (never sent) when the client disconnected before its body was read.</summary>
    public const int ClientClosedRequest = 499;

    // Kestrel's text for RequestRejectionReason.UnexpectedEndOfRequestContent (the reason itself is internal; ASP.NET
    // Core does not localize Kestrel's messages).
    internal const string UnexpectedEndOfRequestContent = "Unexpected end of request content.";

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var http = context.HttpContext;

        // YARP runs every request transform, also after a step refused; and a second body step finds the body read.
        if (http.Response.StatusCode != StatusCodes.Status200OK || http.Response.HasStarted
            || http.Features.Get<EdgeBodyFeature>() is not null
            || (onlyForm && !FormBody.IsForm(http.Request.ContentType))
            || http.GetEdgeRequest() is null)
        {
            return ValueTask.CompletedTask;
        }

        return new ValueTask(BufferAsync(context));
    }

    private async Task BufferAsync(RequestTransformContext transform)
    {
        var context = transform.HttpContext;

        // An upgrade has no body for the steps to check (they would pass an empty one), and after the 101 (or on HTTP/2's
        // extended CONNECT stream) every byte is relayed unread: a signed, schema-checked or approved route cannot vouch
        // for them.
        if (IsProtocolUpgrade(context))
        {
            await DenyAsync(context, UpgradeRefused);
            return;
        }

        if (context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            context.Features.Set(new EdgeBodyFeature(ReadOnlyMemory<byte>.Empty));
            return;
        }

        if (context.Request.ContentLength > plan.MaxBodyBytes)
        {
            await DenyTooLargeAsync(context, "content_length");
            return;
        }

        byte[] buffer;
        int total;
        try
        {
            (buffer, total) = await ReadAsync(context, plan.MaxBodyBytes, transform.CancellationToken);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await DenyTooLargeAsync(context, "server_limit");
            return;
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status408RequestTimeout && !context.RequestAborted.IsCancellationRequested)
        {
            // Kestrel's MinRequestBodyDataRate: the body came too slowly (a slow or stalled client, or a slowloris). Its
            // framing was fine, so neither "malformed" nor a validation failure the ban rules would count.
            await DenyAsync(context, new EdgeDenial(StatusCodes.Status408RequestTimeout, BodyTimeoutCode, "Body timeout",
                "The request body arrived too slowly."));
            return;
        }
        catch (Exception ex) when (IsClientGone(context, ex))
        {
            if (await KestrelBodyAborts.ClassifyAbortedAsync(context, ex) is { } aborted)
            {
                // Kestrel itself refused the body and reset the stream (HTTP/2): no answer can follow, and the client did
                // not go away. The record says the refusal, with no bytes sent.
                plan.OnRefused?.Invoke(context, aborted.Reason);
                Log.BodyRefused(logger, context.GetEdgeRequest()!.RouteId ?? "", aborted.Reason);
                decisions.DenyUnanswered(context, plan.StepName, aborted.Status, aborted.Reason);
                context.Response.ContentLength = 0;
                return;
            }

            // The client went away mid-body: nothing can be answered, but the decision is still audited, with the
            // nginx-style 499 so no record claims a status the client never received.
            decisions.DenyUnanswered(context, plan.StepName, ClientClosedRequest, ClientAbortedReason);
            return;
        }
        catch (OperationCanceledException) when (transform.CancellationToken.IsCancellationRequested)
        {
            // The forwarder's activity timeout (the cluster's HttpRequest.ActivityTimeout, 100 s by default) runs from
            // before the transforms: a body still arriving when it ends could never be sent on, so it is refused here
            // rather than left to fail as a backend timeout the backend never saw.
            await DenyAsync(context, new EdgeDenial(StatusCodes.Status408RequestTimeout, BodyTimeoutCode, "Body timeout",
                "The request body took longer to arrive than this route's activity timeout.")
            {
                Reason = BodyTimeoutCode + ":activity_timeout",
            });
            return;
        }
        catch (Exception ex) when (ex is BadHttpRequestException or IOException or OperationCanceledException or InvalidOperationException)
        {
            // Kestrel reports broken framing (bad chunk size, body shorter than Content-Length) as BadHttpRequestException
            // or, for some inputs, as a plain IOException, while the connection is still there to receive an answer.
            // InvalidOperationException is a client fault too: Kestrel decodes a chunked body's trailers as it reads the
            // body (HttpProtocol.OnTrailer), and a NUL in a value throws it there; Http1Connection makes the same a 400 only
            // while parsing the request's headers, so the body read throws it bare. Left to YARP, it was a 502
            // backend_unavailable for a backend never called (RequestTrailersTests, "trailer with a NUL").
            await DenyAsync(context, new EdgeDenial(StatusCodes.Status400BadRequest, BodyInvalidCode, "Body invalid", "The request body is malformed.")
            {
                Reason = MalformedFramingReason,
            });
            return;
        }

        if (total < 0)
        {
            await DenyTooLargeAsync(context, "streamed");
            return;
        }

        var body = new EdgeBodyFeature(new ReadOnlyMemory<byte>(buffer, 0, total));
        context.Features.Set(body);
        // Disposes the parsed JSON, if a step asked for it, once the request is done.
        context.Response.RegisterForDispose(body);

        // A form's _method is a DELETE to Rails, Laravel and Symfony, decided here (and by the steps) as a POST; refused
        // as the query's is, by the edge itself, on every route whose body the edge reads.
        if (FormBody.IsForm(context.Request.ContentType)
            && MethodOverrideParameter.OverridesInForm(context.Request.Method, context.Request.ContentType, body))
        {
            await decisions.DenyAsync(context, EdgeRequestMiddleware.EdgeStepName, MethodOverrideParameter.FormDenial);
            return;
        }

        // YARP's request content reads Request.Body when it sends, not before; the request headers were copied already,
        // so the length goes on the content (YARP never copies the client's Transfer-Encoding).
        context.Request.Body = new MemoryStream(buffer, 0, total, writable: false);
        context.Request.ContentLength = total;
        context.Request.Headers.Remove("Transfer-Encoding");
        if (transform.ProxyRequest.Content is { } content)
        {
            content.Headers.ContentLength = total;
        }
        else if (total > 0)
        {
            // Defensive: YARP set no content only for a request it judged bodiless; bytes were read all the same.
            transform.ProxyRequest.Content = new ByteArrayContent(buffer, 0, total);
        }
    }

    private static bool IsProtocolUpgrade(HttpContext context) =>
        context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        || context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true };

    /// <summary>
    /// True when the client is gone and nothing written would reach it: Kestrel aborted the request, the connection was
    /// reset or aborted (a shutdown past its drain window aborts the transport, and the read fails with that reason
    /// before <c>RequestAborted</c> fires: it was answered 400 on a dead connection and recorded as if sent), or the
    /// connection's input ended before the body did (FIN or RST mid-body; Kestrel closes the connection then, and it
    /// reports that before <c>RequestAborted</c> fires, so the token alone would race). Anything else Kestrel throws while
    /// reading a body is broken framing on a live connection, and gets an answer.
    /// </summary>
    internal static bool IsClientGone(HttpContext context, Exception exception) =>
        context.RequestAborted.IsCancellationRequested
        || exception is ConnectionResetException or ConnectionAbortedException
        || exception.InnerException is ConnectionResetException or ConnectionAbortedException
        || (exception is BadHttpRequestException && string.Equals(exception.Message, UnexpectedEndOfRequestContent, StringComparison.Ordinal));

    /// <summary>Reads the whole body; returns a length of -1 as soon as it exceeds <paramref name="cap"/>.</summary>
    private static async Task<(byte[] Buffer, int Length)> ReadAsync(HttpContext context, long cap, CancellationToken activity)
    {
        // One byte beyond the cap is enough to tell "too large" without holding more than the cap.
        var limit = (int)Math.Min(cap + 1, int.MaxValue);
        // The declared length is the client's word: allocated up front, a few header bytes declaring the cap held that much
        // memory per request while no body came. Past the first bytes the buffer grows only as the body arrives, and ends
        // at the declared size when the client told the truth.
        var expected = context.Request.ContentLength is { } declared ? (int)Math.Min(declared + 1, limit) : limit;
        var size = Math.Min(expected, context.Request.ContentLength is null ? InitialBufferSize : MaxUpFrontBufferSize);
        // Every byte is overwritten by the read before it is used, so zeroing the (often large) buffer first is wasted work.
        var buffer = GC.AllocateUninitializedArray<byte>(Math.Max(size, 1));
        var total = 0;
        var body = context.Request.Body;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (buffer.Length >= limit)
                {
                    return (buffer, -1);
                }

                var grown = (long)buffer.Length * 2;
                if (buffer.Length < expected)
                {
                    grown = Math.Min(grown, expected);
                }

                Array.Resize(ref buffer, (int)Math.Min(grown, limit));
            }

            var read = await body.ReadAsync(buffer.AsMemory(total), activity);
            if (read == 0)
            {
                return (buffer, total);
            }

            total += read;
            if (total > cap)
            {
                return (buffer, -1);
            }
        }
    }

    private Task DenyTooLargeAsync(HttpContext context, string how) =>
        DenyAsync(context, new EdgeDenial(StatusCodes.Status413PayloadTooLarge, BodyTooLargeCode, "Body too large",
            $"The body exceeds this route's limit of {plan.MaxBodyBytes} bytes.")
        {
            Reason = BodyTooLargeCode + ":" + how,
        });

    private Task DenyAsync(HttpContext context, EdgeDenial denial)
    {
        var reason = denial.Reason ?? denial.Code;
        plan.OnRefused?.Invoke(context, reason);
        Log.BodyRefused(logger, context.GetEdgeRequest()!.RouteId ?? "", reason);
        return decisions.DenyAsync(context, plan.StepName, denial);
    }

    /// <summary>What the route's body steps need together (its cap, the step a refused body is recorded against); null when none reads it.</summary>
    public static BodyPlan? PlanFor(RouteConfig route, EdgeStepRegistry registry, EdgeSection edge)
    {
        if (route.Transforms is null)
        {
            return null;
        }

        string? firstStep = null;
        string? cappingStep = null;
        var onlyForm = true;
        EdgeBodyRequirement? capping = null;
        foreach (var values in route.Transforms)
        {
            if (RequirementOf(values, registry, edge) is not { } requirement)
            {
                continue;
            }

            EdgeStepRegistry.TryGetStepName(values, out var name);
            registry.TryGet(name!, out var factory);

            // A step reading every body answers for a refused one before a step that only reads forms (EdgeAuthenticate):
            // a route that already buffered for its approval still names the approval on a 413.
            if (!requirement.OnlyForm)
            {
                firstStep = onlyForm ? factory!.Name : firstStep;
                onlyForm = false;
            }
            else
            {
                firstStep ??= factory!.Name;
            }

            if (requirement.MaxBodyBytes is { } cap && (capping?.MaxBodyBytes is not { } smallest || cap < smallest))
            {
                capping = requirement;
                cappingStep = factory!.Name;
            }
        }

        return firstStep is null
            ? null
            : new BodyPlan(cappingStep ?? firstStep, capping?.MaxBodyBytes ?? EdgeBodyRequirement.DefaultMaxBodyBytes, capping?.OnRefused);
    }

    /// <summary>What the step of one transform entry needs of the body; null when it does not read it.</summary>
    public static EdgeBodyRequirement? RequirementOf(IReadOnlyDictionary<string, string> values, EdgeStepRegistry registry, EdgeSection edge) =>
        EdgeStepRegistry.TryGetStepName(values, out var name) && registry.TryGet(name, out var factory) && factory is IEdgeBodyRequirement bodyStep
            ? bodyStep.GetBodyRequirement(values, edge)
            : null;

    internal sealed record BodyPlan(string StepName, long MaxBodyBytes, Action<HttpContext, string>? OnRefused);

    private static partial class Log
    {
        [LoggerMessage(1000, LogLevel.Debug, "Body refused on route {Route}: {Reason}")]
        public static partial void BodyRefused(ILogger logger, string route, string reason);
    }
}
