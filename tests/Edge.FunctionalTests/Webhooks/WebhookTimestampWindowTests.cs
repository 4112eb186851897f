using System.Net;
using System.Text.Json;
using Edge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>The window is measured on the edge's clock to the tick, not to the second it truncates to.</summary>
public sealed class WebhookTimestampWindowTests : IDisposable
{
    private readonly string _secret = Path.GetTempFileName();

    public void Dispose() => File.Delete(_secret);

    [Fact]
    public async Task Stripe_ReplayTtlJustOverTwiceTolerance_ReplayAfterTheIdExpiredRefusedAsTooOld()
    {
        // The clock was truncated to whole seconds, so a timestamp stayed in the window for up to a second more than
        // Tolerance on either side: the window spanned almost 2 × Tolerance + 1 s, and with a ReplayTtl the validator
        // accepts (just over 2 × Tolerance) a captured delivery replayed in that last second found its id forgotten.
        File.WriteAllText(_secret, WebhookSchemes.StripeSecret);
        using var backend = Backend.Start();
        var time = new FakeTimeProvider(WebhookEdgeFixture.Start);
        var json = ProxyJson.Create(
            backend.Url,
            new Dictionary<string, object> { ["stripe"] = ProxyJson.Route("/hooks/stripe", new Dictionary<string, string> { ["EdgeWebhook"] = "stripe" }) },
            new
            {
                Webhooks = new Dictionary<string, object>
                {
                    ["stripe"] = new { Scheme = "Stripe", Secrets = new[] { "file:" + _secret }, Tolerance = "00:00:10", ReplayTtl = "00:00:20.5" },
                },
            });
        await using var edge = await EdgeHost.StartAsync(json, timeProvider: time);
        var timestamp = WebhookEdgeFixture.Start.ToUnixTimeSeconds() + 10;
        var id = Guid.NewGuid().ToString("N");
        var delivery = WebhookSchemes.Stripe.Sign(timestamp, id, SchemeUnderTest.Body(id, 1), false);

        using var first = await edge.Client.SendAsync(delivery.ToRequest());
        time.Advance(TimeSpan.FromSeconds(20.9));
        using var replayed = await edge.Client.SendAsync(delivery.ToRequest());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, replayed.StatusCode);
        using var problem = JsonDocument.Parse(await replayed.Content.ReadAsStringAsync());
        Assert.Equal("timestamp_out_of_window", problem.RootElement.GetProperty("code").GetString());
        Assert.Single(backend.Received);
    }
}
