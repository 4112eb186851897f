using Edge.AuditWriter.Log;

namespace Edge.AuditWriter.Api;

/// <summary>RFC 9457 problem+json answers with stable codes.</summary>
internal static class Problems
{
    public static IResult Create(int status, string code, string title, string? detail = null) =>
        Results.Problem(
            statusCode: status,
            title: title,
            detail: detail,
            type: "urn:edge:problem:" + code,
            extensions: new Dictionary<string, object?> { ["code"] = code });

    public static IResult BadRequest(string code, string detail) => Create(StatusCodes.Status400BadRequest, code, "Bad audit request", detail);

    /// <summary>
    /// What a failed body read answers (Kestrel's <see cref="BadHttpRequestException"/>): 408 <c>body_timeout</c> for a body
    /// slower than MinRequestBodyDataRate (a slowloris, a stalled sender), 400 <c>body_invalid</c> for broken framing (a bad
    /// chunk size). Both were 500 internal_error with a stack trace in the log. The edge's codes for the same refusals.
    /// </summary>
    public static IResult BodyUnreadable(BadHttpRequestException failure) =>
        failure.StatusCode == StatusCodes.Status408RequestTimeout
            ? Create(StatusCodes.Status408RequestTimeout, "body_timeout", "Body timeout", "The request body arrived too slowly.")
            : BadRequest("body_invalid", "The request body is malformed.");

    /// <summary>A 400 about one query parameter, named in <c>errors</c> as the edge's own problems name one (<c>{"parameter","detail"}</c>).</summary>
    public static IResult BadParameter(string code, string parameter, string detail) =>
        Results.Problem(
            statusCode: StatusCodes.Status400BadRequest,
            title: "Bad audit request",
            detail: detail,
            type: "urn:edge:problem:" + code,
            extensions: new Dictionary<string, object?>
            {
                ["code"] = code,
                ["errors"] = new[] { new Dictionary<string, string> { ["parameter"] = parameter, ["detail"] = detail } },
            });

    /// <summary>
    /// 503 <c>writer_standby</c> with <c>Retry-After: 1</c>: another writer of the shared store sequences; nothing was stored,
    /// so the sender moves to the next writer URL (or retries here after a failover).
    /// </summary>
    public static IResult WriterStandby() =>
        new RetryAfterResult(Create(StatusCodes.Status503ServiceUnavailable, "writer_standby", "Writer on standby",
            "This audit writer is a standby; another writer sequences the log. Nothing was stored; send the batch to the sequencer."));

    /// <summary>A 503 to repeat: with <c>Retry-After: 1</c>, as <see cref="WriterStandby"/>.</summary>
    public static IResult RetryLater(string code, string title, string detail) =>
        new RetryAfterResult(Create(StatusCodes.Status503ServiceUnavailable, code, title, detail));

    /// <summary>
    /// 503 <c>ingest_busy</c> with <c>Retry-After: 1</c>: Writer:MaxConcurrentIngests batches are held already; nothing was
    /// read or stored. The edge's shipper retries the batch on the same writer after its backoff.
    /// </summary>
    public static IResult IngestBusy(int max) =>
        RetryLater("ingest_busy", "Writer busy",
            $"The writer holds {max} batches already (Writer:MaxConcurrentIngests); nothing of this one was read or stored. Send it again shortly.");

    /// <summary>
    /// 503 <c>store_unavailable</c>: the SQLite file this writer opened was deleted or moved away while it runs; nothing is
    /// stored or acknowledged (a 5xx: the edge's shipper moves to its next writer URL or retries).
    /// </summary>
    public static IResult StoreUnavailable() =>
        Create(StatusCodes.Status503ServiceUnavailable, "store_unavailable", "Audit store unavailable",
            "The writer's store file is no longer at Writer:StorePath; nothing was stored. Restore it and restart the writer.");

    public static IResult StoreWriteFailing(StoreWriteFailure failure) =>
        Create(StatusCodes.Status503ServiceUnavailable, "store_write_failing", "Audit store refusing writes",
            $"The store refused the last batch at {failure.At:O} ({failure.Reason}); nothing of it was stored and the edges keep it. Ready again once a batch is stored.");

    /// <summary>429 with <c>Retry-After</c> (whole seconds, at least 1).</summary>
    public static IResult TooManyRequests(string code, string detail, TimeSpan retryAfter) =>
        new RetryAfterResult(Create(StatusCodes.Status429TooManyRequests, code, "Too many requests", detail),
            Edge.Shared.RefusalRecordLimiter.RetryAfterSeconds(retryAfter));

    /// <summary>401 with the <c>WWW-Authenticate</c> challenge RFC 9110 §15.5.2 requires.</summary>
    public static IResult Unauthorized(string code, string detail, string challenge) =>
        new ChallengeResult(Create(StatusCodes.Status401Unauthorized, code, "Unauthorized", detail), challenge);

    /// <summary>
    /// Registered as <c>ProblemDetailsOptions.CustomizeProblemDetails</c>, so every problem the writer sends (its own, the
    /// exception handler's, status code pages) carries the request path as <c>instance</c> and the id its logs use
    /// (<c>RequestId</c>, the request's TraceIdentifier) as <c>requestId</c>, like the edge's problems.
    /// </summary>
    public static void AddRequestContext(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        problem.Instance ??= context.HttpContext.Request.Path.Value;
        problem.Extensions["requestId"] = context.HttpContext.TraceIdentifier;

        // Status code pages and the exception handler know no code: give them the stable one their status stands for,
        // so a client can branch on `code` for every answer, not only for the writer's own problems.
        if (!problem.Extensions.ContainsKey("code"))
        {
            var code = problem.Status switch
            {
                StatusCodes.Status400BadRequest => "bad_request",
                StatusCodes.Status404NotFound => "not_found",
                StatusCodes.Status405MethodNotAllowed => "method_not_allowed",
                StatusCodes.Status413PayloadTooLarge => "body_too_large",
                StatusCodes.Status415UnsupportedMediaType => "unsupported_media_type",
                StatusCodes.Status500InternalServerError => "internal_error",
                { } status => "http_" + status.ToString(System.Globalization.CultureInfo.InvariantCulture),
                null => "internal_error",
            };
            problem.Type = "urn:edge:problem:" + code;
            problem.Extensions["code"] = code;
        }
    }

    // Both wrappers pass on the status of the problem they wrap: ingest counts its answers by it (IngestMetrics), and a
    // wrapper that hid it was counted as 200, so a 401 or a standby's 503 read as a batch stored.
    private sealed class RetryAfterResult(IResult problem, string seconds = "1") : IResult, IStatusCodeHttpResult
    {
        public int? StatusCode => (problem as IStatusCodeHttpResult)?.StatusCode;

        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds;
            return problem.ExecuteAsync(httpContext);
        }
    }

    private sealed class ChallengeResult(IResult problem, string challenge) : IResult, IStatusCodeHttpResult
    {
        public int? StatusCode => (problem as IStatusCodeHttpResult)?.StatusCode;

        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.WWWAuthenticate = challenge;
            return problem.ExecuteAsync(httpContext);
        }
    }
}
