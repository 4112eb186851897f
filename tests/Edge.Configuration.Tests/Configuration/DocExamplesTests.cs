using System.Text.Json;
using Edge.Testing.Docs;

namespace Edge.Configuration.Tests.Configuration;

/// <summary>
/// Every proxy.json example in README.md and docs/*.md validates as <c>edge config validate</c> would check it, and every
/// example marked invalid is refused. How blocks are found, marked and completed: <see cref="DocExamples"/>.
/// </summary>
public sealed class DocExamplesTests
{
    public static TheoryData<string> ConfigExamples()
    {
        var data = new TheoryData<string>();
        foreach (var example in DocExamples.All().Where(e => e.Kind != ExampleKind.NotConfig))
        {
            data.Add(example.Id);
        }

        return data;
    }

    [Fact]
    public void All_DocsHoldConfigExamples_FoundInReadmeAndEveryCapabilityPage()
    {
        var files = DocExamples.All().Where(e => e.Kind == ExampleKind.Valid).Select(e => e.File).ToHashSet();

        // A broken extractor that finds nothing must not pass as "every example validates".
        foreach (var page in new[] { "docs/configuration.md", "docs/rate-limiting.md", "docs/webhooks.md", "docs/validation.md",
                     "docs/authentication.md", "docs/approvals.md", "docs/threat-protection.md" })
        {
            Assert.Contains(page, files);
        }
    }

    [Theory]
    [MemberData(nameof(ConfigExamples))]
    public async Task ValidateAsync_DocExample_ValidUnlessMarkedInvalid(string id)
    {
        var example = DocExamples.All().Single(e => e.Id == id);
        var directory = Directory.CreateTempSubdirectory("edge-docs-example-").FullName;
        try
        {
            var document = DocExamples.Complete(example, Path.Combine(directory, "secrets"));
            var path = Path.Combine(directory, "proxy.json");
            var text = document.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
            await File.WriteAllTextAsync(path, text);

            // A policy fragment completed into a file without routes gets the CLI's no-routes warning; not the example's own.
            var found = (await ProxyConfigFileValidator.ValidateAsync(path))
                .Where(e => !(e.IsWarning && e.Location == "ReverseProxy:Routes" && !example.Text.Contains("\"Routes\"", StringComparison.Ordinal)))
                .ToList();
            var errors = found.Where(e => !e.IsWarning).ToList();
            var warnings = found.Where(e => e.IsWarning).ToList();

            switch (example.Kind)
            {
                case ExampleKind.Invalid:
                    Assert.True(errors.Count > 0, $"{id} is marked invalid but validates:\n{text}");
                    Assert.True(example.ErrorAt is null || errors.Any(e => e.Location == example.ErrorAt), $"{id}: no error at {example.ErrorAt}:\n{string.Join('\n', found)}");
                    break;
                case ExampleKind.Warns:
                    Assert.True(errors.Count == 0 && warnings.Count > 0, $"{id} is marked warns but got:\n{string.Join('\n', found)}\n--- completed as ---\n{text}");
                    break;
                default:
                    Assert.True(found.Count == 0, $"{id} does not validate cleanly:\n{string.Join('\n', found)}\n--- completed as ---\n{text}");
                    break;
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Read_MarkersIndentationAndOtherLanguages_OnlyJsonBlocksWithTheirMarkers()
    {
        var lines = """
            Text.

            ```json
            "Roles": { "Viewer": [ "orders.read" ] }
            ```
            1. A step:
               <!-- example: invalid Edge:RateLimits:p:Windw -->

               ```json
               "RateLimits": { "p": { "Windw": "00:01:00" } }
               ```
            <!-- example: not-config -->
            ```jsonc
            {"status":400}
            ```
            ```bash
            curl -s http://127.0.0.1:8080/
            ```
            <!-- example: warns -->
            ```json
            { "ReverseProxy": {} }
            ```
            """.Split('\n');

        var examples = DocExamples.Read("docs/x.md", lines).ToList();

        Assert.Equal([3, 9, 13, 20], examples.Select(e => e.Line));
        Assert.Equal([ExampleKind.Valid, ExampleKind.Invalid, ExampleKind.NotConfig, ExampleKind.Warns], examples.Select(e => e.Kind));
        Assert.Equal("Edge:RateLimits:p:Windw", examples[1].ErrorAt);
        Assert.Equal("\"RateLimits\": { \"p\": { \"Windw\": \"00:01:00\" } }\n", examples[1].Text);
        Assert.Equal("docs/x.md:9", examples[1].Id);
    }

    [Fact]
    public void Complete_TransformsFragment_BecomesARouteWithItsPoliciesAndClusterFilledIn()
    {
        var example = new DocExample("docs/x.md", 1, ExampleKind.Valid, """
            "Transforms": [ { "EdgeTenant": "Header", "Name": "X-Tenant-ID" }, { "EdgeAuthenticate": "corp-jwt" }, { "EdgeRequire": "orders.read" } ],
            …
            "Webhooks": { "w": { "Scheme": "StandardWebhooks", "Secrets": [ "env:X_WHSEC", "file:/run/secrets/x" ] } }
            """);
        var directory = Directory.CreateTempSubdirectory("edge-docs-example-").FullName;
        try
        {
            var document = DocExamples.Complete(example, directory);

            var route = document["ReverseProxy"]!["Routes"]![DocExamples.ExampleRouteId]!;
            Assert.Equal(3, route["Transforms"]!.AsArray().Count);
            Assert.NotNull(document["ReverseProxy"]!["Clusters"]![DocExamples.ExampleRouteId]);
            Assert.Equal("ApiKey", document["Edge"]!["Authentication"]!["corp-jwt"]!["Type"]!.GetValue<string>());
            Assert.Equal("orders.read", document["Edge"]!["Roles"]!["DocsExample"]![0]!.GetValue<string>());
            var secrets = document["Edge"]!["Webhooks"]!["w"]!["Secrets"]!.AsArray();
            Assert.Equal("env:EDGE_DOCS_EXAMPLE_X_WHSEC", secrets[0]!.GetValue<string>());
            Assert.StartsWith("whsec_", Environment.GetEnvironmentVariable("EDGE_DOCS_EXAMPLE_X_WHSEC"), StringComparison.Ordinal);
            Assert.Equal("file:" + Path.Combine(directory, "run/secrets/x"), secrets[1]!.GetValue<string>());
            Assert.StartsWith("whsec_", File.ReadAllText(Path.Combine(directory, "run/secrets/x")), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
