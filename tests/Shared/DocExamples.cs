using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Edge.Testing.Docs;

/// <summary>
/// The proxy.json examples of README.md and docs/*.md, read from the markdown at test time so that a block added later
/// is checked without touching a test.
/// </summary>
/// <remarks>
/// Every fenced <c>json</c> or <c>jsonc</c> block is a proxy.json example unless the line right before its fence (blank
/// lines aside) is an HTML comment:
/// <list type="bullet">
/// <item><c>&lt;!-- example: invalid Location --&gt;</c>: a deliberately broken example; validation must refuse it with an
/// error at <c>Location</c> (such as <c>Edge:RateLimits:p:Windw</c>; optional).</item>
/// <item><c>&lt;!-- example: warns --&gt;</c>: valid, but shows what validation warns about; it must warn.</item>
/// <item><c>&lt;!-- example: not-config --&gt;</c>: not proxy.json at all (a response, an audit record, another tool's file).</item>
/// </list>
/// Any other example must validate without errors and without warnings.
/// A block with a top-level <c>ReverseProxy</c> is a whole proxy.json and is taken as written, except for its secrets
/// (step 4 and 5 below). Any other block is a fragment, completed into a whole proxy.json (<see cref="Complete"/>):
/// <list type="number">
/// <item>lines holding only <c>…</c> (the docs' "more here") are dropped; a block starting with <c>"</c> is wrapped in <c>{ }</c>;</item>
/// <item>top-level <c>Edge</c> keeps its sections; <c>Routes</c> and <c>Clusters</c> go under <c>ReverseProxy</c>;
/// <c>Transforms</c> becomes the transforms of a route <c>example</c> (cluster <c>example</c>) on <c>/example/{**rest}</c>;
/// a member whose value has a <c>ClusterId</c> is a route; any other member is an <c>Edge</c> section;</item>
/// <item>a fragment without routes gets the route <c>example</c> without steps (a file without routes is refused);
/// every cluster and named policy its steps reference but it does not define gets the smallest entry of its kind
/// (<see cref="FillReferences"/>; an added Authentication policy takes the API key <see cref="FilledApiKey"/>), and
/// permissions its steps and approvals need but no role grants go to a role <see cref="FilledRole"/>;</item>
/// <item>secrets: <c>env:NAME</c> becomes <c>env:EDGE_DOCS_EXAMPLE_NAME</c>, set in this process; an absolute
/// <c>file:/path</c> becomes a file in a temporary folder; both hold a sample value of the format the field needs;</item>
/// <item>a relative <c>file:</c> reference (a JSON Schema) is resolved against the repository root, where the docs'
/// proxy.json lives, and becomes absolute.</item>
/// </list>
/// </remarks>
internal static class DocExamples
{
    public const string ExampleRouteId = "example";

    /// <summary>The API key of every Authentication policy <see cref="FillReferences"/> adds (header <c>X-Api-Key</c>; a second one added to the same file reads <c>X-Api-Key-N</c>).</summary>
    public const string FilledApiKey = "docs-example-api-key-0001";

    /// <summary>The role of <see cref="FilledApiKey"/>: it grants what the fragment's steps require and no role grants.</summary>
    public const string FilledRole = "DocsExample";

    // RFC 8032 test vector 1: a valid Ed25519 public key, for whpk_ references.
    private const string Ed25519PublicKeyHex = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    private static readonly Regex Fence = new(@"^(?<indent>[ \t]*)```(?<info>[^`\s]*)\s*$", RegexOptions.CultureInvariant);
    private static readonly Regex Marker = new(@"^\s*<!--\s*example:\s*(?<kind>[a-z-]+)(\s+(?<at>\S+))?\s*-->\s*$", RegexOptions.CultureInvariant);
    private static readonly JsonDocumentOptions ReadOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>The checkout root (the folder holding Edge.sln) above the test's base directory.</summary>
    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Edge.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Edge.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Every json/jsonc block of README.md and docs/**/*.md.</summary>
    public static IReadOnlyList<DocExample> All()
    {
        var root = RepositoryRoot();
        var files = new List<string> { Path.Combine(root, "README.md") };
        files.AddRange(Directory.GetFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
        var examples = new List<DocExample>();
        foreach (var file in files)
        {
            examples.AddRange(Read(Path.GetRelativePath(root, file).Replace('\\', '/'), File.ReadAllLines(file)));
        }

        return examples;
    }

    /// <summary>The one json block of <paramref name="file"/> whose text contains <paramref name="contains"/>.</summary>
    public static DocExample Find(string file, string contains)
    {
        var found = All().Where(e => e.File == file && e.Text.Contains(contains, StringComparison.Ordinal)).ToList();
        return found.Count == 1 ? found[0] : throw new InvalidOperationException(
            $"{found.Count} json blocks of {file} contain {contains}; the docs changed, update the test");
    }

    internal static IEnumerable<DocExample> Read(string file, string[] lines)
    {
        for (var i = 0; i < lines.Length; i++)
        {
            var open = Fence.Match(lines[i]);
            if (!open.Success || open.Groups["info"].Value.Length == 0)
            {
                continue;
            }

            var indent = open.Groups["indent"].Value.Length;
            var body = new StringBuilder();
            var end = i + 1;
            while (end < lines.Length && !(Fence.Match(lines[end]) is { Success: true } close && close.Groups["info"].Value.Length == 0))
            {
                var line = lines[end];
                body.Append(line.Length >= indent && string.IsNullOrWhiteSpace(line[..indent]) ? line[indent..] : line.TrimStart()).Append('\n');
                end++;
            }

            var info = open.Groups["info"].Value;
            if (info is "json" or "jsonc")
            {
                var (kind, at) = KindBefore(lines, i);
                yield return new DocExample(file, i + 1, kind, body.ToString(), at);
            }

            i = end;
        }
    }

    private static (ExampleKind Kind, string? ErrorAt) KindBefore(string[] lines, int fence)
    {
        for (var j = fence - 1; j >= 0; j--)
        {
            if (string.IsNullOrWhiteSpace(lines[j]))
            {
                continue;
            }

            var marker = Marker.Match(lines[j]);
            if (!marker.Success)
            {
                return (ExampleKind.Valid, null);
            }

            var kind = marker.Groups["kind"].Value switch
            {
                "invalid" => ExampleKind.Invalid,
                "warns" => ExampleKind.Warns,
                "not-config" => ExampleKind.NotConfig,
                var other => throw new InvalidOperationException($"unknown example marker '{other}' at line {j + 1}: use invalid, warns or not-config"),
            };
            return (kind, marker.Groups["at"].Success ? marker.Groups["at"].Value : null);
        }

        return (ExampleKind.Valid, null);
    }

    /// <summary>The block as a whole proxy.json (see the class remarks), with its secrets supplied under <paramref name="secretsDirectory"/>.</summary>
    public static JsonObject Complete(DocExample example, string secretsDirectory)
    {
        var text = string.Join('\n', example.Text.Split('\n').Where(l => l.Trim() != "…")).Trim();
        if (text.StartsWith('"'))
        {
            text = "{\n" + text + "\n}";
        }

        var node = JsonNode.Parse(text, documentOptions: ReadOptions) as JsonObject
            ?? throw new InvalidOperationException($"{example.Id} is not a JSON object or object members; mark it <!-- example: not-config --> if it is not proxy.json");

        if (node.ContainsKey("ReverseProxy"))
        {
            // A whole proxy.json is checked as written: moving a misplaced member would hide the mistake.
            SupplySecrets(node, "", secretsDirectory, RepositoryRoot());
            return node;
        }

        var document = new JsonObject();
        var reverseProxy = new JsonObject();
        var edge = new JsonObject();
        foreach (var (name, value) in node.ToArray())
        {
            node.Remove(name);
            switch (name)
            {
                case "Edge":
                    var sections = value as JsonObject ?? throw new InvalidOperationException($"{example.Id}: Edge is not an object");
                    foreach (var (section, content) in sections.ToArray())
                    {
                        sections.Remove(section);
                        edge[section] = content;
                    }

                    break;
                case "Routes" or "Clusters":
                    reverseProxy[name] = value;
                    break;
                case "Transforms":
                    Routes(reverseProxy)[ExampleRouteId] = new JsonObject
                    {
                        ["ClusterId"] = ExampleRouteId,
                        ["Match"] = new JsonObject { ["Path"] = "/" + ExampleRouteId + "/{**rest}" },
                        ["Transforms"] = value,
                    };
                    break;
                default:
                    if (value is JsonObject route && route.ContainsKey("ClusterId"))
                    {
                        Routes(reverseProxy)[name] = value;
                    }
                    else
                    {
                        edge[name] = value;
                    }

                    break;
            }
        }

        document["ReverseProxy"] = reverseProxy;
        document["Edge"] = edge;
        FillReferences(reverseProxy, edge);

        SupplySecrets(document, "", secretsDirectory, RepositoryRoot());
        return document;
    }

    /// <summary>
    /// For a fragment: every cluster and policy its routes name but do not define, as the smallest entry of its kind
    /// that validates, so the fragment is checked on what it shows.
    /// </summary>
    private static void FillReferences(JsonObject reverseProxy, JsonObject edge)
    {
        var routes = Routes(reverseProxy);
        if (routes.Count == 0)
        {
            // A fragment of policies alone: an edge refuses a file without routes, so it gets the plain example route.
            routes[ExampleRouteId] = new JsonObject
            {
                ["ClusterId"] = ExampleRouteId,
                ["Match"] = new JsonObject { ["Path"] = "/" + ExampleRouteId + "/{**rest}" },
            };
        }

        var permissions = new List<string>();
        var clusters = reverseProxy["Clusters"] as JsonObject ?? new JsonObject();
        reverseProxy["Clusters"] = clusters;
        foreach (var (_, value) in routes)
        {
            if (value is not JsonObject route)
            {
                continue;
            }

            if (route["ClusterId"]?.GetValue<string>() is { } clusterId && !clusters.ContainsKey(clusterId))
            {
                clusters[clusterId] = new JsonObject { ["Destinations"] = new JsonObject { ["d1"] = new JsonObject { ["Address"] = "http://127.0.0.1:9/" } } };
            }

            if (route["RateLimiterPolicy"]?.GetValue<string>() is { } limiter)
            {
                Fill(edge, "RateLimits", limiter);
            }

            foreach (var transform in route["Transforms"] as JsonArray ?? [])
            {
                if (transform is not JsonObject step || step.FirstOrDefault() is not (var kind, JsonValue { } names))
                {
                    continue;
                }

                var section = kind switch
                {
                    "EdgeAuthenticate" => "Authentication",
                    "EdgeRateLimit" => "RateLimits",
                    "EdgeWebhook" => "Webhooks",
                    "EdgeValidate" => "Validation",
                    "EdgeApproval" => "Approvals",
                    _ => null,
                };
                foreach (var name in section is null ? [] : names.GetValue<string>().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    if (!(section == "Authentication" && name == "Anonymous"))
                    {
                        Fill(edge, section!, name);
                    }
                }

                if (kind == "EdgeRequire")
                {
                    permissions.AddRange(names.GetValue<string>().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
                }
            }
        }

        foreach (var (_, value) in edge["Approvals"] as JsonObject ?? [])
        {
            foreach (var name in value?["Authentication"]?.GetValue<string>().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [])
            {
                Fill(edge, "Authentication", name);
            }

            if (value?["ApproverPermission"]?.GetValue<string>() is { } permission)
            {
                permissions.Add(permission);
            }
        }

        // A permission no role grants is refused (approvals) or warned about (EdgeRequire); roles are another part of proxy.json.
        var granted = (edge["Roles"] as JsonObject ?? []).SelectMany(r => r.Value as JsonArray ?? []).Select(p => p?.GetValue<string>()).ToHashSet();
        var missing = permissions.Where(p => !granted.Contains(p) && !granted.Contains("*")).Distinct().ToList();
        var filledKey = (edge["Authentication"] as JsonObject ?? []).Any(p => p.Value?["Keys"]?[0]?["Principal"]?.GetValue<string>() == "docs-example");
        if (missing.Count > 0 || filledKey)
        {
            var roles = edge["Roles"] as JsonObject ?? new JsonObject();
            edge["Roles"] = roles;
            roles[FilledRole] = new JsonArray([.. missing.Select(p => (JsonNode?)JsonValue.Create(p))]);
        }
    }

    private static void Fill(JsonObject edge, string section, string name)
    {
        var policies = edge[section] as JsonObject ?? new JsonObject();
        edge[section] = policies;
        if (policies.ContainsKey(name))
        {
            return;
        }

        // Filled key policies read distinct headers: a route (or the approvals API) listing two policies on one header is
        // refused, since only the first would ever be tried.
        var header = policies.Any(p => string.Equals(p.Value?["Header"]?.GetValue<string>(), "X-Api-Key", StringComparison.OrdinalIgnoreCase))
            ? "X-Api-Key-" + (policies.Count + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)
            : "X-Api-Key";
        policies[name] = section switch
        {
            "Authentication" => new JsonObject
            {
                ["Type"] = "ApiKey",
                ["Header"] = header,
                ["Keys"] = new JsonArray(new JsonObject
                {
                    ["Sha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(FilledApiKey))),
                    ["Principal"] = "docs-example",
                    ["Roles"] = new JsonArray(FilledRole),
                }),
            },
            "RateLimits" => new JsonObject { ["Limit"] = 10, ["Window"] = "00:01:00", ["Key"] = "{ip}" },
            "Webhooks" => new JsonObject { ["Scheme"] = "GitHub", ["Secrets"] = new JsonArray("env:DOCS_FILLED_WEBHOOK_SECRET") },
            "Validation" => new JsonObject { ["MaxBodyBytes"] = 1024 },
            "Approvals" => new JsonObject { ["ApproverPermission"] = "docs.approve" },
            _ => throw new InvalidOperationException("no minimal policy for " + section),
        };
    }

    private static JsonObject Routes(JsonObject reverseProxy)
    {
        if (reverseProxy["Routes"] is not JsonObject routes)
        {
            routes = new JsonObject();
            reverseProxy["Routes"] = routes;
        }

        return routes;
    }

    private static void SupplySecrets(JsonNode node, string path, string secretsDirectory, string root)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, value) in obj.ToArray())
                {
                    if (value is JsonValue v && v.TryGetValue<string>(out var s) && Rewrite(s, path + ":" + name, obj, secretsDirectory, root) is { } replaced)
                    {
                        obj[name] = replaced;
                    }
                    else if (value is not null)
                    {
                        SupplySecrets(value, path + ":" + name, secretsDirectory, root);
                    }
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue v && v.TryGetValue<string>(out var s) && Rewrite(s, path, node.Parent as JsonObject, secretsDirectory, root) is { } replaced)
                    {
                        array[i] = replaced;
                    }
                    else if (array[i] is { } item)
                    {
                        SupplySecrets(item, path + $"[{i}]", secretsDirectory, root);
                    }
                }

                break;
        }
    }

    private static string? Rewrite(string reference, string path, JsonObject? owner, string secretsDirectory, string root)
    {
        if (reference.StartsWith("env:", StringComparison.Ordinal))
        {
            var name = "EDGE_DOCS_EXAMPLE_" + reference[4..];
            Environment.SetEnvironmentVariable(name, SampleSecret(reference, path, owner));
            return "env:" + name;
        }

        if (!reference.StartsWith("file:", StringComparison.Ordinal))
        {
            return null;
        }

        var file = reference[5..];
        if (!Path.IsPathRooted(file))
        {
            return "file:" + Path.GetFullPath(Path.Combine(root, file));
        }

        var target = Path.Combine(secretsDirectory, file.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.WriteAllText(target, SampleSecret(reference, path, owner) + "\n");
        return "file:" + target;
    }

    /// <summary>A sample value of the format the field holding <paramref name="reference"/> needs.</summary>
    private static string SampleSecret(string reference, string path, JsonObject? owner)
    {
        var standardWebhooks = owner?["Scheme"] is JsonValue scheme && scheme.TryGetValue<string>(out var s) && s == "StandardWebhooks";
        if (standardWebhooks && reference.Contains("whpk", StringComparison.OrdinalIgnoreCase))
        {
            return "whpk_" + Convert.ToBase64String(Convert.FromHexString(Ed25519PublicKeyHex));
        }

        if (standardWebhooks || path.EndsWith(":Notify:Secret", StringComparison.Ordinal))
        {
            return "whsec_" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(reference)));
        }

        // Long enough for an HS256 key, and only characters a Telegram secret token allows.
        return "docs-example-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(reference)));
    }
}

internal enum ExampleKind
{
    Valid,
    Invalid,
    Warns,
    NotConfig,
}

/// <summary>One fenced json block: where it is, how it is marked, and its text.</summary>
internal sealed record DocExample(string File, int Line, ExampleKind Kind, string Text, string? ErrorAt = null)
{
    /// <summary>Stable within a run and readable in a test name: <c>docs/webhooks.md:8</c>.</summary>
    public string Id => $"{File}:{Line}";

    public override string ToString() => Id;
}
