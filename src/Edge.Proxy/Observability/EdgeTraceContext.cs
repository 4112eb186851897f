using System.Buffers;
using System.Diagnostics;
using System.Globalization;

namespace Edge.Proxy.Observability;

/// <summary>
/// The W3C trace context of one proxied request when <c>Edge:Observability:Activities</c> is off (the default): the
/// trace id the audit record carries and the <c>traceparent</c> the backend receives, made without an
/// <see cref="Activity"/>. A valid incoming <c>traceparent</c> keeps its trace id and trace flags and gets a new parent
/// id (this hop); otherwise the trace starts here with a random trace id and flags 00. <c>tracestate</c> and
/// <c>baggage</c> pass through as sent. This is what ASP.NET Core's hosting Activity and HttpClient's child Activity
/// produced before, without creating either per request (issue 13: the two Activities, their tags and the hosting log
/// scope were about 1.5 KB and several µs per request that nothing else used: no trace exporter is configured).
/// </summary>
internal sealed class EdgeTraceContext
{
    /// <summary>The header, version 00: "00-" + 32 hex trace id + "-" + 16 hex parent id + "-" + 2 hex flags.</summary>
    public const int TraceParentLength = 55;

    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");

    private EdgeTraceContext(string traceParent)
    {
        TraceParent = traceParent;
    }

    /// <summary>The <c>traceparent</c> sent to the backend.</summary>
    public string TraceParent { get; }

    /// <summary>The trace id, 32 lower-case hex characters: a slice of <see cref="TraceParent"/>, so no string of its own.</summary>
    public ReadOnlyMemory<char> TraceId => TraceParent.AsMemory(3, 32);

    /// <summary>
    /// First middleware of the proxy pipeline, when the request has no Activity: reads the incoming <c>traceparent</c>, replaces it with this hop's (YARP
    /// copies request headers to the backend) and keeps the trace id for the audit record.
    /// </summary>
    public static Task Begin(HttpContext context, RequestDelegate next)
    {
        // With Activities on, hosting's request Activity carries the trace and TraceContextTransform sends it on. Without
        // one (Activities off, or on but the hosting diagnostics logger turned off in config, which stops hosting from
        // creating it) the edge makes its own, so the backend always gets this hop's traceparent.
        if (Activity.Current is not null)
        {
            return next(context);
        }

        var headers = context.Request.Headers;
        var trace = Start(headers.TraceParent.Count == 1 ? headers.TraceParent[0] : null, out var traceParent);
        headers.TraceParent = traceParent;
        // The non-generic indexer, as Pipeline/EdgeFeatures: no generic virtual dispatch per request.
        context.Features[typeof(EdgeTraceContext)] = trace;
        return next(context);
    }

    /// <summary>The audit record's trace id: this context's, or the current Activity's when Activities are on.</summary>
    public static ReadOnlyMemory<char>? TraceIdOf(HttpContext context) =>
        context.Features[typeof(EdgeTraceContext)] is EdgeTraceContext trace ? trace.TraceId : Activity.Current?.TraceId.ToHexString().AsMemory();

    /// <summary>The context of a request that arrived with <paramref name="incoming"/> (or none), and the header to send on.</summary>
    /// <remarks>
    /// The header is the only string made: the trace id is copied from the incoming header or written from random bytes,
    /// and so is this hop's parent id (ActivityTraceId and ActivitySpanId would each keep a hex string of their own, about
    /// 140 bytes per request that only this header read).
    /// </remarks>
    public static EdgeTraceContext Start(string? incoming, out string traceParent)
    {
        if (!TryParse(incoming, out _, out var flags))
        {
            incoming = null; // flags are 00 then
        }

        traceParent = string.Create(TraceParentLength, (incoming, flags), static (span, state) =>
        {
            Span<byte> random = stackalloc byte[24];
            Random.Shared.NextBytes(random);
            "00-".AsSpan().CopyTo(span);
            if (state.incoming is { } incoming)
            {
                incoming.AsSpan(3, 32).CopyTo(span[3..]);
            }
            else
            {
                Convert.TryToHexStringLower(NotAllZeros(random[..16]), span.Slice(3, 32), out _);
            }

            span[35] = '-';
            Convert.TryToHexStringLower(NotAllZeros(random[16..]), span.Slice(36, 16), out _);
            span[52] = '-';
            state.flags.TryFormat(span[53..], out _, "x2", CultureInfo.InvariantCulture);
        });
        return new EdgeTraceContext(traceParent);
    }

    /// <summary>
    /// A version-00 <c>traceparent</c> (W3C Trace Context, level 1): lower-case hex, neither id all zeros. Later versions
    /// are read by their first four fields, as the specification asks; anything else starts a new trace.
    /// </summary>
    public static bool TryParse(string? value, out ReadOnlyMemory<char> traceId, out byte flags)
    {
        traceId = default;
        flags = 0;
        if (value is null || value.Length < TraceParentLength)
        {
            return false;
        }

        var span = value.AsSpan();
        if (!IsLowerHex(span[..2]) || span[..2] is "ff" || span[2] != '-' || span[35] != '-' || span[52] != '-'
            || (span.Length > TraceParentLength && (span[..2] is "00" || span[TraceParentLength] != '-')))
        {
            return false;
        }

        var trace = span.Slice(3, 32);
        var parent = span.Slice(36, 16);
        var flagText = span.Slice(53, 2);
        if (!IsLowerHex(trace) || !IsLowerHex(parent) || !IsLowerHex(flagText)
            || trace.IndexOfAnyExcept('0') < 0 || parent.IndexOfAnyExcept('0') < 0)
        {
            return false;
        }

        traceId = value.AsMemory(3, 32);
        flags = byte.Parse(flagText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        return true;
    }

    private static bool IsLowerHex(ReadOnlySpan<char> text) => text.IndexOfAnyExcept(LowerHex) < 0;

    // An all-zero trace or parent id is invalid (W3C Trace Context, 3.2.2.3 and 3.2.2.4).
    private static Span<byte> NotAllZeros(Span<byte> id)
    {
        if (id.IndexOfAnyExcept((byte)0) < 0)
        {
            id[^1] = 1;
        }

        return id;
    }
}
