using System.Diagnostics.Metrics;
using Edge.Proxy.Observability;

namespace Edge.Proxy.Webhooks;

/// <summary><c>edge_webhook_verifications_total{route,policy,scheme,result}</c>: one per delivery, with the precise result.</summary>
internal sealed class WebhookMetrics(EdgeMetrics metrics)
{
    private readonly Counter<long> _verifications = metrics.Meter.CreateCounter<long>(
        "edge.webhook.verifications", description: "Webhook deliveries by route, policy, scheme and precise result.");

    public void Verification(string route, string policy, string scheme, string result) =>
        _verifications.Add(1, new("route", route), new("policy", policy), new("scheme", scheme), new("result", result));
}
