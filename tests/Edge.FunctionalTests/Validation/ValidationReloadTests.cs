using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Validation;

/// <summary>A validation policy whose schema cannot be loaded is refused on reload; the last good schema keeps serving.</summary>
public sealed class ValidationReloadTests
{
    [Fact]
    public async Task Reload_SchemaFileMissing_RefusedAndLastGoodSchemaKeepsServing()
    {
        var fixture = new ValidationEdgeFixture();
        await fixture.InitializeAsync();
        try
        {
            await fixture.Edge.WriteConfigAsync(fixture.ProxyJsonFor(fixture.Backend.Url, ordersSchemaFile: "gone.json"));

            var refused = await EventuallyRefusedAsync(fixture.Edge);
            Assert.Contains("gone.json", refused, StringComparison.Ordinal);
            using var valid = await PostAsync(fixture.Edge, """{"amount":1,"currency":"EUR"}""");
            Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
            using var invalid = await PostAsync(fixture.Edge, """{"amount":"1","currency":"EUR"}""");
            Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task Reload_NewSchemaFile_AppliedToTheRoute()
    {
        var fixture = new ValidationEdgeFixture();
        await fixture.InitializeAsync();
        try
        {
            // A versioned file name is how a schema change reaches a running edge: proxy.json changes with it.
            await File.WriteAllTextAsync(Path.Combine(fixture.SchemaDirectory, "orders.v2.json"), """{"type":"object","required":["total"]}""");
            await fixture.Edge.WriteConfigAsync(fixture.ProxyJsonFor(fixture.Backend.Url, ordersSchemaFile: "orders.v2.json"));

            Assert.Equal(HttpStatusCode.OK, await EventuallyOkAsync(fixture.Edge, """{"total":5}"""));
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task Reload_SchemaEditedInPlaceThenProxyJsonEdited_RouteUsesTheEditedSchema()
    {
        var fixture = new ValidationEdgeFixture();
        await fixture.InitializeAsync();
        try
        {
            // The validation section's text is unchanged, so only the schema's content in the policy hash makes YARP
            // rebuild the orders route; without it the route would keep the old schema until its own text changed.
            await File.WriteAllTextAsync(Path.Combine(fixture.SchemaDirectory, "orders.json"), """{"type":"object","required":["total"]}""");
            await fixture.Edge.WriteConfigAsync(fixture.ProxyJsonFor(fixture.Backend.Url, extraRoute: true));

            Assert.Equal(HttpStatusCode.OK, await EventuallyOkAsync(fixture.Edge, """{"total":5}"""));
            using var old = await PostAsync(fixture.Edge, """{"amount":1,"currency":"EUR"}""");
            Assert.Equal(HttpStatusCode.UnprocessableEntity, old.StatusCode);
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    [Fact]
    public async Task Poll_SchemaEditedInPlace_RouteUsesTheEditedSchemaWithoutEditingProxyJson()
    {
        var fixture = new ValidationEdgeFixture();
        await fixture.InitializeAsync();
        try
        {
            // The edge polls the files its config read besides proxy.json, as it polls proxy.json itself.
            await File.WriteAllTextAsync(Path.Combine(fixture.SchemaDirectory, "orders.json"), """{"type":"object","required":["total"]}""");

            Assert.Equal(HttpStatusCode.OK, await EventuallyOkAsync(fixture.Edge, """{"total":5}"""));
            using var old = await PostAsync(fixture.Edge, """{"amount":1,"currency":"EUR"}""");
            Assert.Equal(HttpStatusCode.UnprocessableEntity, old.StatusCode);
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }

    private static async Task<HttpStatusCode> EventuallyOkAsync(EdgeHost edge, string body)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            using var response = await PostAsync(edge, body);
            if (response.StatusCode == HttpStatusCode.OK || DateTime.UtcNow > deadline)
            {
                return response.StatusCode;
            }

            await Task.Delay(100);
        }
    }

    private static async Task<string> EventuallyRefusedAsync(EdgeHost edge)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            var status = await edge.Management.GetStringAsync("/edge/status");
            using var json = JsonDocument.Parse(status);
            if (json.RootElement.TryGetProperty("lastRefusal", out var refusal) && refusal.ValueKind == JsonValueKind.Object)
            {
                return refusal.GetRawText();
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the edit was not refused within 5 s");
    }

    private static async Task<HttpResponseMessage> PostAsync(EdgeHost edge, string body)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return await edge.Client.PostAsync("/orders/reload", content);
    }
}
