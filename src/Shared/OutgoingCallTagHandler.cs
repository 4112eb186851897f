using System.Net.Http.Metrics;

namespace Edge.Shared;

/// <summary>
/// Tags the edge's own outgoing calls (audit shipping, JWKS fetches, approval notifications) with <c>edge.client</c> on
/// the runtime's <c>http.client.request.duration</c>, which the forwarder's calls to backends share: without it a slow
/// audit writer or JWKS host reads as a slow backend. Forwarded requests are never tagged, so they cost nothing extra.
/// </summary>
internal sealed class OutgoingCallTagHandler : DelegatingHandler
{
    /// <summary>The tag's name: Prometheus shows it as the <c>edge_client</c> label.</summary>
    public const string TagName = "edge.client";

    private readonly Action<HttpMetricsEnrichmentContext> _tag;

    /// <param name="client">The tag's value: <c>audit_shipper</c>, <c>jwks</c> or <c>approval_notify</c>.</param>
    public OutgoingCallTagHandler(string client, HttpMessageHandler inner)
        : base(inner)
    {
        _tag = context => context.AddCustomTag(TagName, client);
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpMetricsEnrichmentContext.AddCallback(request, _tag);
        return base.SendAsync(request, cancellationToken);
    }
}
