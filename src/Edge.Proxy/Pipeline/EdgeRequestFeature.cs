namespace Edge.Proxy.Pipeline;

/// <summary>
/// The core of one proxied request: its id, route, start and client address, and the decision. Set on
/// <c>HttpContext.Features</c> by <see cref="EdgeRequestMiddleware"/>; the decision is written only by
/// <see cref="EdgeDecisions"/>. What each capability found (tenant, identity, rate limit, signature, body) is in its own
/// feature, set only when that capability runs.
/// </summary>
internal sealed class EdgeRequestFeature
{
    private List<IEdgeRequestCleanup>? _cleanups;
    private HttpContext? _context;
    private IAuditSink? _audit;
    private int _recorded;
    private int _sentToBackend;

    public required string RequestId { get; init; }

    /// <summary>The route's id; null for a request no route takes (<see cref="UnroutedRequests"/>).</summary>
    public required string? RouteId { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>The client's IP address by the <c>Edge:TrustedProxies</c> rule; the audit record, <c>{ip}</c> and the failure signal use it.</summary>
    public string? ClientIp { get; init; }

    /// <summary>
    /// Whether a client header name contains '_' (seen in the one pass over the headers on arrival), so a step that must
    /// refuse a '_' spelling of its header looks for one only then.
    /// </summary>
    public bool HasUnderscoreHeaderName { get; set; }

    /// <summary>The step that denied the request, or null when every step let it through.</summary>
    public string? DecidingStep { get; private set; }

    /// <summary>
    /// The precise reason code of the denial (audited, counted, not necessarily shown to the client); on an allowed
    /// request the edge answered itself, the problem code of that answer (<see cref="AnsweredWith"/>).
    /// </summary>
    public string? ReasonCode { get; private set; }

    public bool IsDenied => DecidingStep is not null;

    /// <summary>
    /// Whether the forwarder handed the request to the backend; known only for requests a step tracks
    /// (<see cref="BackendSend.Track"/>), false for all others.
    /// </summary>
    public bool SentToBackend => Volatile.Read(ref _sentToBackend) != 0;

    internal void MarkSentToBackend() => Volatile.Write(ref _sentToBackend, 1);

    /// <summary>
    /// The HTTP/1.x backend connection this request's send last wrote to, so a response refused for its framing closes
    /// the connection it came on (<see cref="BackendResponseFraming"/>); null before the send.
    /// </summary>
    internal BackendResponseFraming.Connection? BackendConnection { get; set; }

    /// <summary>The audit sink had room for this request's record when it was admitted (<see cref="IAuditSink.CanAdmit"/>).</summary>
    internal bool RecordAdmitted { get; set; }

    /// <summary>Ban rules (by index, up to 64) whose key this request was already checked with; see <c>ThreatMonitor</c>.</summary>
    internal ulong ThreatRulesChecked { get; set; }

    internal void Deny(string step, string reason)
    {
        DecidingStep = step;
        ReasonCode = reason;
    }

    /// <summary>
    /// An allowed request the edge still answered itself (the backend failed, or the streamed body broke off): the
    /// problem code the client got, recorded as the reason of an allow.
    /// </summary>
    internal void AnsweredWith(string code)
    {
        if (DecidingStep is null)
        {
            ReasonCode = code;
        }
    }

    /// <summary>Where <see cref="RecordOnceAsync"/> sends the decision; kept here so the response callback needs no closure.</summary>
    internal void BindRecording(HttpContext context, IAuditSink audit)
    {
        _context = context;
        _audit = audit;
    }

    /// <summary>Records the decision exactly once: when the response starts, or at the end when it never started.</summary>
    internal Task RecordOnceAsync() =>
        _audit is not null && Interlocked.Exchange(ref _recorded, 1) == 0 ? _audit.RecordAsync(_context!, this).AsTask() : Task.CompletedTask;

    /// <summary>Runs <paramref name="cleanup"/> once the request has been answered (or abandoned), before it is audited.</summary>
    public void RegisterCleanup(IEdgeRequestCleanup cleanup) => (_cleanups ??= []).Add(cleanup);

    internal async ValueTask CleanupAsync(HttpContext context)
    {
        if (_cleanups is not { } cleanups)
        {
            return;
        }

        _cleanups = null;
        foreach (var cleanup in cleanups)
        {
            await cleanup.CleanupAsync(context);
        }
    }
}
