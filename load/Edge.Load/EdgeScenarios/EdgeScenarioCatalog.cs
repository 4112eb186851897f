using System.Globalization;
using Edge.Load.Http;
using Edge.Load.Scenarios;

namespace Edge.Load.EdgeScenarios;

/// <summary>A scenario the CLI can run by name; parameters come from <c>--param key=value</c>.</summary>
public sealed record CatalogEntry(string Name, string Description, IReadOnlyList<string> Parameters, Func<ScenarioDefinition> Create);

/// <summary>The scenario library for the edge. Each entry matches a route shape of proxy.json (see load/bench/proxy.full.json).</summary>
public static class EdgeScenarioCatalog
{
    public static IReadOnlyList<CatalogEntry> All { get; } =
    [
        new("plain-get", "GET a proxied route with no auth.",
            ["path=/ (request path)", "tenant= (sent in tenant-header when set)", "tenant-header=X-Tenant-ID", "keys=0 (when set: X-Rate-Key cycles over that many values, for rate limits keyed on {header:X-Rate-Key})", "also-targets= (comma-separated base URLs: requests alternate over --target and these, e.g. two edge instances)", "expect=200 (comma-separated ok statuses)"],
            PlainGet),
        new("jwt-rbac", "GET a JWT + RBAC route with HS256, RS256 or ES256 tokens minted by the tool (claims sub, tenant_id, roles).",
            ["path=/orders/1", "alg=HS256 (or RS256, ES256)", "key=env:EDGE_JWT_HS256_KEY (or file:/path; HS256)", "signing-key= (RS256/ES256: file:/path.pem from 'edge-load keys')", "kid=rs256|es256 (JWKS key id; default the alg in lower case)", "iss=https://id.example", "aud=edge", "tenant=acme", "roles=Agent (comma-separated)", "users=16 (distinct subjects)", "token-lifetime=1h", "tenant-header=X-Tenant-ID", "expect=200"],
            JwtRbac),
        new("webhook", "POST GitHub-style webhooks: fresh X-GitHub-Delivery and a valid X-Hub-Signature-256 on every request.",
            ["path=/hooks/github", "secret=env:GITHUB_WEBHOOK_SECRET (or file:/path)", "senders=100 (distinct sender ids)", "body-padding=256 (bytes)", "expect=200"],
            Webhook),
        new("tenant-limit", "One tenant hammering its rate limit: 429 is an expected outcome, not a failure.",
            ["path=/orders/1", "tenant=noisy", "tenant-header=X-Tenant-ID", "auth=none (or jwt, then the jwt-rbac parameters apply)", "expect=200,429"],
            TenantLimit),
        new("mixed", "A realistic mix of plain GETs, JWT + RBAC GETs and signed webhooks; each measured as its own step.",
            ["plain-weight=60", "jwt-weight=30", "webhook-weight=10", "plain-path=/", "jwt-path=/orders/1", "webhook-path=/hooks/github", "tenant=acme", "plus the jwt-rbac and webhook parameters", "expect=200"],
            Mixed),
        new("audit-query", "The audit writer's GET /audit/records with a rotating filter mix (each filter its own step) against a store from 'edge-load audit-fill'.",
            ["key=env:EDGE_AUDIT_API_KEY (auditor API key with audit.read.all)", "key-header=X-Api-Key", "tenants=16", "principals=10000", "records=1000000 (as given to audit-fill)"],
            AuditQueryScenario.Create),
    ];

    public static CatalogEntry? Find(string name) => All.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));

    private static ScenarioDefinition PlainGet()
    {
        var requests = new EdgeRequests();
        string path = "/";
        string? tenant = null;
        var keys = 0;
        IReadOnlySet<int> expected = new HashSet<int>();
        return Scenario.Create("plain-get", ctx =>
            {
                var request = requests.Get(path, tenant, ctx.InvocationNumber, withToken: false);
                if (keys > 0)
                {
                    request.Headers.TryAddWithoutValidation("X-Rate-Key", "k" + (ctx.InvocationNumber % keys).ToString(CultureInfo.InvariantCulture));
                }

                return EdgeRequests.SendAsync(requests.Client, request, expected, ctx.CancellationToken);
            })
            .WithInit(init =>
            {
                requests.InitCommon(init);
                path = init.GetPath("path", "/");
                tenant = NullIfEmpty(init.GetParameter("tenant", ""));
                keys = Math.Max(0, init.GetParameter("keys", 0));
                expected = HttpStep.ParseStatuses(init.GetParameter("expect", "200"));
                return Task.CompletedTask;
            });
    }

    private static ScenarioDefinition JwtRbac()
    {
        var requests = new EdgeRequests();
        string path = "/orders/1", tenant = "acme";
        IReadOnlySet<int> expected = new HashSet<int>();
        return Scenario.Create("jwt-rbac", ctx => EdgeRequests.SendAsync(requests.Client, requests.Get(path, tenant, ctx.InvocationNumber, withToken: true), expected, ctx.CancellationToken))
            .WithInit(init =>
            {
                requests.InitCommon(init);
                path = init.GetPath("path", "/orders/1");
                tenant = init.GetParameter("tenant", "acme");
                expected = HttpStep.ParseStatuses(init.GetParameter("expect", "200"));
                requests.InitTokens(init, tenant);
                return Task.CompletedTask;
            });
    }

    private static ScenarioDefinition Webhook()
    {
        var requests = new EdgeRequests();
        string path = "/hooks/github";
        var senders = 100;
        IReadOnlySet<int> expected = new HashSet<int>();
        return Scenario.Create("webhook", ctx => EdgeRequests.SendAsync(requests.Client, requests.Webhook(path, senders, ctx.InvocationNumber), expected, ctx.CancellationToken))
            .WithInit(init =>
            {
                requests.InitCommon(init);
                path = init.GetPath("path", "/hooks/github");
                senders = init.GetParameter("senders", 100);
                expected = HttpStep.ParseStatuses(init.GetParameter("expect", "200"));
                requests.InitWebhook(init);
                return Task.CompletedTask;
            });
    }

    private static ScenarioDefinition TenantLimit()
    {
        var requests = new EdgeRequests();
        string path = "/orders/1", tenant = "noisy";
        var withToken = false;
        IReadOnlySet<int> expected = new HashSet<int>();
        return Scenario.Create("tenant-limit", ctx => EdgeRequests.SendAsync(requests.Client, requests.Get(path, tenant, ctx.InvocationNumber, withToken), expected, ctx.CancellationToken))
            .WithInit(init =>
            {
                requests.InitCommon(init);
                path = init.GetPath("path", "/orders/1");
                tenant = init.GetParameter("tenant", "noisy");
                expected = HttpStep.ParseStatuses(init.GetParameter("expect", "200,429"));
                var auth = init.GetParameter("auth", "none");
                withToken = auth switch
                {
                    "jwt" => true,
                    "none" => false,
                    _ => throw new FormatException($"scenario tenant-limit: auth must be none or jwt, not '{auth}'."),
                };
                if (withToken)
                {
                    requests.InitTokens(init, tenant);
                }

                return Task.CompletedTask;
            });
    }

    private static ScenarioDefinition Mixed()
    {
        var requests = new EdgeRequests();
        string plainPath = "/", jwtPath = "/orders/1", webhookPath = "/hooks/github", tenant = "acme";
        int plainWeight = 60, jwtWeight = 30, webhookWeight = 10, senders = 100;
        IReadOnlySet<int> expected = new HashSet<int>();
        return Scenario.Create("mixed", ctx =>
            {
                var client = requests.Client;
                var pick = Random.Shared.Next(plainWeight + jwtWeight + webhookWeight);
                return pick < plainWeight
                    ? ctx.Step("plain-get", () => EdgeRequests.SendAsync(client, requests.Get(plainPath, tenant, ctx.InvocationNumber, withToken: false), expected, ctx.CancellationToken))
                    : pick < plainWeight + jwtWeight
                        ? ctx.Step("jwt-rbac", () => EdgeRequests.SendAsync(client, requests.Get(jwtPath, tenant, ctx.InvocationNumber, withToken: true), expected, ctx.CancellationToken))
                        : ctx.Step("webhook", () => EdgeRequests.SendAsync(client, requests.Webhook(webhookPath, senders, ctx.InvocationNumber), expected, ctx.CancellationToken));
            })
            .WithInit(init =>
            {
                requests.InitCommon(init);
                plainWeight = init.GetParameter("plain-weight", 60);
                jwtWeight = init.GetParameter("jwt-weight", 30);
                webhookWeight = init.GetParameter("webhook-weight", 10);
                if (plainWeight < 0 || jwtWeight < 0 || webhookWeight < 0 || plainWeight + jwtWeight + webhookWeight == 0)
                {
                    throw new FormatException("scenario mixed: weights must be non-negative and not all zero.");
                }

                plainPath = init.GetPath("plain-path", "/");
                jwtPath = init.GetPath("jwt-path", "/orders/1");
                webhookPath = init.GetPath("webhook-path", "/hooks/github");
                tenant = init.GetParameter("tenant", "acme");
                senders = init.GetParameter("senders", 100);
                expected = HttpStep.ParseStatuses(init.GetParameter("expect", "200"));
                if (jwtWeight > 0)
                {
                    requests.InitTokens(init, tenant);
                }

                if (webhookWeight > 0)
                {
                    requests.InitWebhook(init);
                }

                return Task.CompletedTask;
            });
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
