using Edge.Testing;

namespace Edge.FunctionalTests.ThreatProtection;

/// <summary>
/// Requests to an edge that trusts 127.0.0.1 as a proxy (<c>Edge:TrustedProxies</c>): <c>X-Forwarded-For</c> names the
/// client address, and <c>X-Device</c> (when given) is what a rule keyed on <c>{header:X-Device}</c> bans.
/// </summary>
internal static class DeviceRequests
{
    public static async Task<HttpResponseMessage> SendAsync(EdgeHost edge, string client, string path, string? device)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", client);
        if (device is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Device", device);
        }

        return await edge.Client.SendAsync(request);
    }
}
