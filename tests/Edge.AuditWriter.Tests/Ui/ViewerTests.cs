using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Edge.Audit.Checkpoints;
using Edge.Audit.Records;
using Edge.Audit.Verification;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Tests.Protection;
using Edge.AuditWriter.Ui;
using Microsoft.Extensions.DependencyInjection;
using Edge.Testing.Browser;
using Microsoft.Playwright;

namespace Edge.AuditWriter.Tests.Ui;

public sealed class ViewerTests(SystemChromium chromium) : IClassFixture<SystemChromium>
{
    private const string EraserKey = "eraser-key-0123456789";
    private const int RecordCount = 230;
    private const string HostilePath = "/orders/<img src=x onerror=\"document.title='owned'\">";

    /// <summary>Record i: acme when even, globex when odd; deny when a multiple of 3; record 7 has a hostile path.</summary>
    private static async Task<WriterFixture> StartWriterAsync()
    {
        var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        var leaves = Enumerable.Range(0, RecordCount)
            .Select(i => WriterFixture.Leaf($"r{i}", i % 2 == 0 ? "acme" : "globex", i % 3 == 0 ? "deny" : "allow", path: i == 7 ? HostilePath : "/orders/1"))
            .ToList();
        using var response = await writer.IngestAsync(leaves, RecordCount);
        response.EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(RecordCount);
        return writer;
    }

    /// <summary>A writer holding just <paramref name="leaves"/>, covered by its signed checkpoint.</summary>
    private static async Task<WriterFixture> StartWithRecordsAsync(params byte[][] leaves)
    {
        var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        using var response = await writer.IngestAsync(leaves, leaves.Length);
        response.EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(leaves.Length);
        return writer;
    }

    private async Task<(IBrowserContext Context, IPage Page, List<string> Errors, List<string> Requests)> OpenAsync(WriterFixture writer, string timezone = "UTC")
    {
        var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { TimezoneId = timezone, Locale = "en-GB", AcceptDownloads = true });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        var requests = new List<string>();
        page.PageError += (_, error) => errors.Add(error);
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };
        page.Request += (_, request) => requests.Add(request.Url);
        page.Dialog += (_, dialog) => errors.Add("dialog: " + dialog.Message);
        await page.GotoAsync(new Uri(writer.BaseAddress, "/ui/").AbsoluteUri);
        return (context, page, errors, requests);
    }

    private static async Task SignInAsync(IPage page, string key)
    {
        await page.GetByLabel("Key or token").FillAsync(key);
        await page.GetByLabel("Key or token").PressAsync("Enter");
    }

    private static ILocator Rows(IPage page) => page.Locator("#records tbody tr");

    [Fact]
    public async Task SignIn_PagingAndSorting_ShowsHundredRowsPerPageInTheViewersTimeZone()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, errors, requests) = await OpenAsync(writer, timezone: "Asia/Tokyo");
        await using var _ = context;

        await SignInAsync(page, "not-a-key");
        await Assertions.Expect(page.Locator("#sign-in-error")).ToHaveTextAsync("These credentials were not accepted.");
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, newest first");
        var firstPageFirstRow = await Rows(page).First.Locator("td").AllInnerTextsAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 2: 100 records, newest first");
        await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 3: 30 records, newest first");
        var nextDisabledOnLastPage = await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).IsDisabledAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).ClickAsync();
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 2: 100 records, newest first");
        await page.Locator("#sort-time").ClickAsync();
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, oldest first");
        var oldest = await Rows(page).First.Locator("button").GetAttributeAsync("aria-label");
        var hostileCell = Rows(page).Nth(7).Locator("td.path");

        Assert.Equal("globex", firstPageFirstRow[1]); // r229, the newest
        Assert.Equal("user-r229", firstPageFirstRow[2]);
        Assert.Equal(["orders", "GET", "/orders/1", "200", "allow"], firstPageFirstRow.Skip(3).Take(5));
        Assert.Contains("GMT+9", firstPageFirstRow[0], StringComparison.Ordinal);
        Assert.Contains("Asia/Tokyo", await page.Locator("#sort-time").InnerTextAsync(), StringComparison.Ordinal);
        Assert.True(nextDisabledOnLastPage);
        Assert.Equal("View record r0", oldest);
        Assert.Equal(HostilePath, await hostileCell.InnerTextAsync());
        Assert.Equal(0, await hostileCell.Locator("img").CountAsync());
        Assert.Equal("Edge audit viewer", await page.TitleAsync());
        // The only console error is Chromium reporting the 401 of the refused sign-in.
        Assert.DoesNotContain(errors, e => !e.Contains("401", StringComparison.Ordinal));
        Assert.All(requests, url => Assert.StartsWith(writer.BaseAddress.AbsoluteUri, url, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Filters_TenantAuditor_SeesOnlyOwnTenantAndNoErasure()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;

        await SignInAsync(page, WriterFixture.AcmeAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, newest first");
        var tenantField = page.GetByLabel("Tenant", new() { Exact = true });
        await page.GetByLabel("Decision").SelectOptionAsync("deny");
        await page.GetByLabel("Route").FillAsync("orders");
        await page.GetByLabel("Route").PressAsync("Enter");
        // acme (even) and deny (multiple of 3): multiples of 6 below 230, i.e. 39 records.
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 39 records, newest first");
        var tenants = await Rows(page).Locator("td:nth-child(2)").AllInnerTextsAsync();
        var decisions = await Rows(page).Locator("td:nth-child(8)").AllInnerTextsAsync();
        await page.GetByLabel("Principal", new() { Exact = true }).FillAsync("user-r12");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 1 records, newest first");

        Assert.Equal("acme", await tenantField.InputValueAsync());
        Assert.False(await tenantField.IsEditableAsync());
        Assert.All(tenants, t => Assert.Equal("acme", t));
        Assert.All(decisions, d => Assert.Equal("deny", d));
        Assert.False(await page.Locator("#erasure").IsVisibleAsync());
        Assert.Empty(errors);
    }

    [Fact]
    public async Task RecordView_ProofFromWriter_MatchesAndTamperedProofShowsMismatch()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);

        await page.GetByRole(AriaRole.Button, new() { Name = "View record r229" }).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToContainTextAsync("Root matches");
        await Assertions.Expect(page.Locator("#signature-result")).ToContainTextAsync("Checkpoint signature valid (Ed25519");
        var json = JsonDocument.Parse(await page.Locator("#detail-json").InnerTextAsync()).RootElement;
        var proofItems = await page.Locator("#detail-proof li").CountAsync();

        await page.RouteAsync("**/audit/proof/inclusion**", async route =>
        {
            var response = await route.FetchAsync();
            var body = JsonNode.Parse(await response.TextAsync())!;
            var first = Convert.FromBase64String(body["proof"]![0]!.GetValue<string>());
            first[0] ^= 0x01;
            body["proof"]![0] = Convert.ToBase64String(first);
            await route.FulfillAsync(new() { Response = response, Body = body.ToJsonString() });
        });
        await page.GetByRole(AriaRole.Button, new() { Name = "View record r228" }).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToContainTextAsync("MISMATCH");

        // A key that did not sign the checkpoint (as if the writer published a different one): the signature check fails.
        using var stranger = NoteSigner.Generate("test.edge/audit");
        await page.RouteAsync("**/audit/key", route => route.FulfillAsync(new() { Status = 200, ContentType = "text/plain", Body = stranger.Verifier + "\n" }));
        await page.GetByRole(AriaRole.Button, new() { Name = "View record r227" }).ClickAsync();
        await Assertions.Expect(page.Locator("#signature-result")).ToHaveTextAsync("Checkpoint signature NOT valid for the key this writer publishes.");

        Assert.Equal("r229", json.GetProperty("id").GetString());
        // 230 = 128 + 64 + 32 + 4 + 2: the last leaf's path is its sibling 228, then the subtrees [224,228), [192,224), [128,192), [0,128).
        Assert.Equal(5, proofItems);
        Assert.Equal("bad", await page.Locator("#proof-result").GetAttributeAsync("class"));
        Assert.Empty(errors);
    }

    [Fact]
    public async Task RecordView_PrunedRecord_ProvesItsLeafHashAgainstTheSignedCheckpoint()
    {
        await using var writer = await StartWriterAsync();
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        var leafHashBeforePruning = (await ErasureTests.RecordsAsync(auditor, "tenant=globex"))
            .Single(r => r.GetProperty("id").GetString() == "r229").GetProperty("leafHash").GetString()!;
        // Retention for globex (odd records) only, so r229 loses its body and r228 keeps it; the run appends two records:
        // its one prune batch's, and its own.
        var log = writer.Services.GetRequiredService<AuditLog>();
        var retention = await log.ApplyRetentionAsync(
            new RetentionOptions { Tenants = new Dictionary<string, TimeSpan>(StringComparer.Ordinal) { ["globex"] = TimeSpan.FromTicks(1) } },
            CancellationToken.None);
        await writer.WaitForCheckpointAsync(RecordCount + 2);
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        // The leaf hash of a pruned record comes from the writer; a writer reporting a different one (here for r227) must not be proven.
        await page.RouteAsync("**/audit/records**", async route =>
        {
            var response = await route.FetchAsync();
            var body = JsonNode.Parse(await response.TextAsync())!;
            foreach (var record in body["records"]!.AsArray().Where(r => r!["id"]!.GetValue<string>() == "r227"))
            {
                var hash = Convert.FromBase64String(record!["leafHash"]!.GetValue<string>());
                hash[0] ^= 0x01;
                record["leafHash"] = Convert.ToBase64String(hash);
            }

            await route.FulfillAsync(new() { Response = response, Body = body.ToJsonString() });
        });
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);

        await page.GetByRole(AriaRole.Button, new() { Name = "View record r229" }).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToContainTextAsync("Root matches: the pruned record's leaf hash");
        var prunedJson = await page.Locator("#detail-json").InnerTextAsync();
        var prunedFacts = await page.Locator("#detail-facts").InnerTextAsync();
        var prunedProofItems = await page.Locator("#detail-proof li").CountAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "View record r227" }).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToContainTextAsync("MISMATCH");
        var tamperedClass = await page.Locator("#proof-result").GetAttributeAsync("class");
        await page.GetByRole(AriaRole.Button, new() { Name = "View record r228" }).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToContainTextAsync("Root matches: the record and its");

        Assert.Equal(115, retention.Pruned);
        Assert.Equal("(no record body: pruned)", prunedJson);
        Assert.Contains("Leaf hash (reported by the writer; the body was pruned)", prunedFacts, StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexStringLower(Convert.FromBase64String(leafHashBeforePruning)), prunedFacts, StringComparison.Ordinal);
        // 232 = 128 + 64 + 32 + 8: leaf 229's path is 228, [230,232), [224,228), then [192,224), [128,192), [0,128).
        Assert.Equal(6, prunedProofItems);
        Assert.Equal("bad", tamperedClass);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Export_CsvAndBundleWithCurrentFilters_DownloadTheFilteredRecords()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await page.GetByLabel("Decision").SelectOptionAsync("deny");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 77 records, newest first");

        var csvDownload = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Export CSV" }).ClickAsync());
        var csv = (await File.ReadAllTextAsync((await csvDownload.PathAsync())!)).TrimEnd('\n').Split('\n');
        var bundleDownload = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Export bundle" }).ClickAsync());
        await using var bundle = File.OpenRead((await bundleDownload.PathAsync())!);
        using var keyClient = writer.Client();
        var key = NoteVerifier.Parse((await keyClient.GetStringAsync("/audit/key")).Split('\n')[0]);
        var report = BundleVerifier.Verify(bundle, [key]);

        Assert.Equal($"audit-{RecordCount}.csv", csvDownload.SuggestedFilename);
        Assert.StartsWith("index,id,time,tenant,principal,route,method,path,status,decision,step,reason", csv[0], StringComparison.Ordinal);
        Assert.Equal(77 + 1, csv.Length);
        Assert.All(csv.Skip(1), row => Assert.Contains(",deny,", row, StringComparison.Ordinal));
        Assert.Equal($"audit-{RecordCount}.tar", bundleDownload.SuggestedFilename);
        Assert.True(report.Valid, report.Problem);
        Assert.Equal(77, report.RecordsChecked);
        await Assertions.Expect(page.Locator("#export-status")).ToContainTextAsync("Downloaded audit-230.tar");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Export_TenantTypedButNotApplied_ExportsOnlyThatTenantAndTheTimelineFollows()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, newest first");
        await page.GetByLabel("Tenant").FillAsync("acme");

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Export CSV" }).ClickAsync());
        var csv = (await File.ReadAllTextAsync((await download.PathAsync())!)).TrimEnd('\n').Split('\n');
        await Assertions.Expect(page.Locator("#records tbody tr td:nth-child(2)").Filter(new() { HasText = "globex" })).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, newest first");

        Assert.Equal(RecordCount / 2 + 1, csv.Length);
        Assert.All(csv.Skip(1), row => Assert.Equal("acme", row.Split(',')[3]));
        Assert.Empty(errors);
    }

    [Fact]
    public async Task WriterStoppedAfterSignIn_ProofExportAndFilters_ShowTheWriterUnreachable()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, newest first");

        await writer.StopAppAsync();
        await Rows(page).First.Locator("button").ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToContainTextAsync("The writer could not be reached");
        await page.GetByRole(AriaRole.Button, new() { Name = "Export CSV" }).ClickAsync();
        await Assertions.Expect(page.Locator("#export-status")).ToContainTextAsync("The writer could not be reached");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();
        await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("The writer could not be reached");

        // The old rows would pass for the answer to the filters just applied.
        Assert.Equal(0, await Rows(page).CountAsync());
        Assert.Equal("bad", await page.Locator("#proof-result").GetAttributeAsync("class"));
        // Chromium reports each refused connection; nothing is left as an unhandled rejection.
        Assert.All(errors, e => Assert.Contains("ERR_CONNECTION_REFUSED", e, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Timeline_LongPrincipalRouteAndReason_WrapInsideTheWindowWithTheViewButtonOnScreen()
    {
        await using var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        // The longest values the edge writes without a space: a 256-character principal, a long route id and reason.
        var principal = "svc-" + new string('p', 252);
        var route = "route-" + new string('r', 120);
        var leaf = WriterFixture.Leaf("long", "acme", decision: "deny", route: route, path: "/" + new string('x', 300), principal: principal);
        using (var response = await writer.IngestAsync([leaf], 1))
        {
            response.EnsureSuccessStatusCode();
        }

        await writer.WaitForCheckpointAsync(1);
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await page.SetViewportSizeAsync(1280, 800);
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 1 records, newest first");

        var overflow = await page.EvaluateAsync<int>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
        var view = await Rows(page).First.Locator("button").BoundingBoxAsync();

        Assert.Equal(principal, await Rows(page).First.Locator("td:nth-child(3)").InnerTextAsync());
        Assert.True(overflow <= 0, $"the page scrolls sideways by {overflow} px");
        Assert.NotNull(view);
        Assert.True(view.X + view.Width <= 1280, $"the View button ends at x = {view.X + view.Width}, outside the 1280 px window");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Timeline_UnauthenticatedRequest_PrincipalCellEmptyNotTheCipherName()
    {
        await using var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        byte[] anonymous = Edge.Audit.Records.AuditRecordSerializer.Serialize(new Edge.Audit.Records.AuditRecord
        {
            Id = "anon", Time = DateTimeOffset.UtcNow, Instance = "edge-test", Tenant = "acme", Decision = "deny",
            Route = "orders", Method = "GET", Path = "/orders/1", Status = 400,
            Subject = new Edge.Audit.Records.AuditSubject { ClientIp = "192.0.2.7" },
        });
        using (var ingest = await writer.IngestAsync([anonymous, WriterFixture.Leaf("known", "acme", principal: "alice")], 2))
        {
            ingest.EnsureSuccessStatusCode();
        }

        await writer.WaitForCheckpointAsync(2);
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        ILocator PrincipalOf(string id) =>
            Rows(page).Filter(new() { Has = page.GetByRole(AriaRole.Button, new() { Name = $"View record {id}", Exact = true }) }).Locator("td:nth-child(3)");

        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(PrincipalOf("known")).ToHaveTextAsync("alice");

        Assert.Equal("", await PrincipalOf("anon").InnerTextAsync());
        Assert.Empty(errors);
    }

    [Fact]
    public async Task SignOut_AfterViewingARecord_LeavesNoRecordOrPrincipalInThePage()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, newest first");
        await Rows(page).First.GetByRole(AriaRole.Button).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToHaveClassAsync("ok");
        await page.Locator("#f-principal").FillAsync("user-r229");

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page.Locator("#sign-in")).ToBeVisibleAsync();

        // Hidden is not gone: a decrypted principal left in the DOM is readable by the next person at this screen.
        var text = await page.EvaluateAsync<string>("() => document.body.textContent + [...document.querySelectorAll('input')].map((i) => i.value).join(' ')");
        Assert.DoesNotContain("user-r", text, StringComparison.Ordinal);
        Assert.DoesNotContain("compliance", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Leaf hash", text, StringComparison.Ordinal);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task SignOut_WhileRecordsLoad_TheLateAnswerIsNotRendered()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, newest first");
        var release = await HoldRequestsAsync(page, "**/audit/records**");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Loading…");

        await SignOutThenAnswerAsync(page, release, "/audit/records");

        Assert.Equal(0, await Rows(page).CountAsync());
        Assert.Equal("", await page.Locator("#page-info").TextContentAsync());
        Assert.Empty(errors);
    }

    [Fact]
    public async Task SignOut_WhileAnErasureIsAnswered_TheLateAnswerPutsNoSubjectOrMessageBack()
    {
        await using var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        using (var ingest = await writer.IngestAsync([WriterFixture.Leaf("e0", "acme", principal: "alice"), WriterFixture.Leaf("e1", "acme", principal: "bob")], 2))
        {
            ingest.EnsureSuccessStatusCode();
        }

        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, EraserKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 2 records, newest first");
        var release = await HoldRequestsAsync(page, "**/audit/erasure");
        await page.GetByLabel("Subject principal").FillAsync("alice");
        await page.GetByLabel("I understand this cannot be undone").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Erase subject" }).ClickAsync();
        await Assertions.Expect(page.Locator("#erasure-result")).ToHaveTextAsync("Erasing…");

        await SignOutThenAnswerAsync(page, release, "/audit/erasure");

        // Before, the answer wrote "Erased: 1 records of alice …" back into the emptied page (hidden is not gone: the next
        // person at this screen read the subject just erased) and reloaded the timeline without a credential, which put
        // "The writer could not be reached: Cannot read properties of null" under the sign-in form.
        var text = await page.EvaluateAsync<string>("() => document.body.textContent + [...document.querySelectorAll('input')].map((i) => i.value).join(' ')");
        Assert.DoesNotContain("alice", text, StringComparison.Ordinal);
        Assert.Equal("", await page.Locator("#erasure-result").TextContentAsync());
        Assert.Equal("", await page.Locator("#status").TextContentAsync());
        Assert.Empty(errors);
    }

    [Fact]
    public async Task SignOut_WhileAProofIsChecked_TheLateAnswerPutsNothingOfTheRecordBack()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, newest first");
        var release = await HoldRequestsAsync(page, "**/audit/proof/inclusion**");
        await Rows(page).First.GetByRole(AriaRole.Button).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToHaveTextAsync("Checking the inclusion proof…");

        await SignOutThenAnswerAsync(page, release, "/audit/proof/inclusion");

        // Before, the late proof filled the emptied record view again: its proof hashes, "Root matches …" and the
        // checkpoint's signature line, for the next person at this screen.
        Assert.Equal("", await page.Locator("#proof-result").TextContentAsync());
        Assert.Equal("", await page.Locator("#signature-result").TextContentAsync());
        Assert.Equal(0, await page.Locator("#detail-proof li").CountAsync());
        Assert.Equal(0, await page.Locator("#detail-facts dt").CountAsync());
        Assert.Empty(errors);
    }

    [Fact]
    public async Task SignOut_WhileAnExportDownloads_TheLateAnswerIsNotSavedOrAnnounced()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        var downloads = new List<string>();
        page.Download += (_, download) => downloads.Add(download.SuggestedFilename);
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, newest first");
        var release = await HoldRequestsAsync(page, "**/audit/export**");
        await page.GetByRole(AriaRole.Button, new() { Name = "Export CSV" }).ClickAsync();
        await Assertions.Expect(page.Locator("#export-status")).ToHaveTextAsync("Exporting csv…");

        await SignOutThenAnswerAsync(page, release, "/audit/export");

        // Before, the CSV (with the principals the writer decrypted for the signed-out caller) was saved to this screen's
        // downloads after the sign-out, and "Downloaded audit-230.csv" written back into the emptied page.
        Assert.Empty(downloads);
        Assert.Equal("", await page.Locator("#export-status").TextContentAsync());
        Assert.Empty(errors);
    }

    [Fact]
    public async Task SignIn_IdentityProviderKeysUnavailable_SaysSignInFailedNotCredentialsRefused()
    {
        // A JWKS address nothing listens on: the writer cannot tell whether any token is valid.
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await using var writer = await WriterFixture.StartAsync(proxyJson: $$"""
            {
              "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/x" } } }, "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } },
              "Edge": {
                "Authentication": {
                  "auditors": { "Type": "Jwt", "Issuer": "https://id.example", "Audience": "edge", "JwksUrl": "http://127.0.0.1:{{port}}/jwks", "RequireHttpsMetadata": false }
                },
                "Roles": { "Auditor": [ "audit.read.all" ] }
              }
            }
            """);
        static string Part(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var token = Part("""{"alg":"RS256","typ":"JWT","kid":"k1"}""") + "." + Part("""{"iss":"https://id.example","aud":"edge","sub":"auditor","exp":4102444800}""") + ".c2ln";
        using var client = writer.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/audit/records");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var records = await client.SendAsync(request);
        var problem = JsonNode.Parse(await records.Content.ReadAsStringAsync())!;
        var (context, page, _, _) = await OpenAsync(writer);
        await using var _ = context;

        await page.GetByLabel("Bearer token").CheckAsync();
        await page.GetByLabel("Key or token").FillAsync(token);
        await page.GetByLabel("Key or token").PressAsync("Enter");

        await Assertions.Expect(page.Locator("#sign-in-error")).ToHaveTextAsync(
            "Sign-in failed: 503 authentication_unavailable: The token signing keys cannot be fetched; try again later.");
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, records.StatusCode);
        Assert.Equal("authentication_unavailable", problem["code"]!.GetValue<string>());
        Assert.True(await page.Locator("#app").IsHiddenAsync());
    }

    [Fact]
    public async Task Timeline_BidiOverrideAndInvisibleCharacters_ShownAsCodePointsNotRendered()
    {
        // U+202E makes "/admin/<RLO>1/sredro" render as "/admin/orders/1"; U+200B and a tag character hide inside a principal.
        await using var writer = await StartWithRecordsAsync(WriterFixture.Leaf("bidi", "acme", path: "/admin/\u202E1/sredro", principal: "alice\u200B\U000E0041"));
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 1 records, newest first");
        var path = await Rows(page).First.Locator("td.path").TextContentAsync();
        var principal = await Rows(page).First.Locator("td:nth-child(3)").TextContentAsync();
        await Rows(page).First.GetByRole(AriaRole.Button).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToHaveClassAsync("ok");
        var json = JsonNode.Parse((await page.Locator("#detail-json").TextContentAsync())!)!;
        var shownJson = await page.Locator("#detail-json").TextContentAsync();

        Assert.Equal("/admin/<U+202E>1/sredro", path);
        Assert.Equal("alice<U+200B><U+E0041>", principal);
        Assert.Contains("\"/admin/\\u202e1/sredro\"", shownJson, StringComparison.Ordinal);
        Assert.Equal("/admin/\u202E1/sredro", json["data"]!["path"]!.GetValue<string>());
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Timeline_RightToLeftLettersInAPath_DrawTheSegmentsInTheOrderTheRecordHolds()
    {
        // No control character: the Hebrew letters alone make a browser draw "/transfer/<alef>/111/<alef>/222" as
        // "/transfer/222/<alef>/111/<alef>", so the auditor would read the two accounts swapped.
        const string path = "/transfer/\u05D0/111/\u05D0/222";
        await using var writer = await StartWithRecordsAsync(WriterFixture.Leaf("rtl", "acme", path: path));
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(Rows(page).First.Locator("td.path")).ToHaveTextAsync(path);
        var rowInOrder = await VisualOrder.IsDrawnBeforeAsync(Rows(page).First.Locator("td.path"), path, "111", "222");
        await Rows(page).First.GetByRole(AriaRole.Button).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToHaveClassAsync("ok");
        var jsonInOrder = await VisualOrder.IsDrawnBeforeAsync(page.Locator("#detail-json"), path, "111", "222");

        Assert.True(rowInOrder, "the timeline draws 222 before 111");
        Assert.True(jsonInOrder, "the record JSON draws 222 before 111");
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("erased")]
    [InlineData("approved")]
    [InlineData("banned")]
    [InlineData("incomplete")]
    [InlineData("closed")]
    public async Task Filters_DecisionOfAWriterApprovalBanIncompleteOrTunnelRecord_CanBeChosen(string decision)
    {
        await using var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        // Ingest refuses "erased" from a sender: the writer's own erasure record carries it (an unknown subject is recorded too).
        using (var ingest = await writer.IngestAsync(decision == "erased" ? [WriterFixture.Leaf("d1", "acme")] : [WriterFixture.Leaf("d0", "acme", decision), WriterFixture.Leaf("d1", "acme")], 2))
        {
            ingest.EnsureSuccessStatusCode();
        }

        if (decision == "erased")
        {
            using var dpo = writer.Client(EraserKey);
            using var erased = await dpo.PostAsync("/audit/erasure", new StringContent("{\"subject\":\"nobody\"}", Encoding.UTF8, "application/json"));
            erased.EnsureSuccessStatusCode();
        }

        await writer.WaitForCheckpointAsync(2);
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 2 records, newest first");

        await page.GetByLabel("Decision").SelectOptionAsync(decision);
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();

        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 1 records, newest first");
        await Assertions.Expect(Rows(page).Locator("td:nth-child(8)")).ToHaveTextAsync(decision);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Erasure_HolderOfAuditEraseThroughTheUi_ShowsErasedRecordsOtherSubjectUntouchedAndProofsStillMatch()
    {
        // End to end against the writer's real erasure endpoint: alice has records e0, e2, e4; bob has e1, e3, e5.
        await using var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        var leaves = Enumerable.Range(0, 6).Select(i => WriterFixture.Leaf($"e{i}", "acme", principal: i % 2 == 0 ? "alice" : "bob")).ToList();
        using (var ingest = await writer.IngestAsync(leaves, leaves.Count))
        {
            ingest.EnsureSuccessStatusCode();
        }

        await writer.WaitForCheckpointAsync(leaves.Count);
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        ILocator PrincipalOf(string id) =>
            Rows(page).Filter(new() { Has = page.GetByRole(AriaRole.Button, new() { Name = $"View record {id}", Exact = true }) }).Locator("td:nth-child(3)");

        await SignInAsync(page, EraserKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 6 records, newest first");
        await Assertions.Expect(PrincipalOf("e0")).ToHaveTextAsync("alice");
        await page.GetByLabel("Subject principal").FillAsync("alice");
        await page.GetByLabel("I understand this cannot be undone").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Erase subject" }).ClickAsync();
        await Assertions.Expect(page.Locator("#erasure-result")).ToHaveTextAsync("Erased: 3 records of alice no longer show the subject.");
        // The table reloads with the erasure's own record on top.
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 7 records, newest first");
        var principals = new Dictionary<string, string>();
        foreach (var id in new[] { "e0", "e1", "e2", "e3", "e4", "e5" })
        {
            principals[id] = await PrincipalOf(id).InnerTextAsync();
        }

        await page.GetByRole(AriaRole.Button, new() { Name = "View record e2", Exact = true }).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToContainTextAsync("Root matches");
        var erasedJson = JsonNode.Parse(await page.Locator("#detail-json").InnerTextAsync())!;
        await page.GetByRole(AriaRole.Button, new() { Name = "View record e3", Exact = true }).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToContainTextAsync("Root matches");
        var untouchedJson = JsonNode.Parse(await page.Locator("#detail-json").InnerTextAsync())!;

        // A refusal from the real endpoint is shown as such: a blank subject is not a principal.
        await page.GetByLabel("Subject principal").FillAsync("   ");
        await page.GetByLabel("I understand this cannot be undone").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Erase subject" }).ClickAsync();
        await Assertions.Expect(page.Locator("#erasure-result")).ToContainTextAsync("Erasure refused: 400 invalid_erasure");

        Assert.Equal(["(erased)", "bob", "(erased)", "bob", "(erased)", "bob"], principals.Values);
        Assert.Equal("""{"protection":"erased"}""", erasedJson["data"]!["subject"]!.ToJsonString());
        Assert.Equal("bob", untouchedJson["data"]!["subject"]!["principal"]!.GetValue<string>());
        Assert.DoesNotContain(errors, e => !e.Contains("400", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Erasure_WalBusyThroughTheUi_SaysAppliedButNotCompleteAndShowsTheRecordsErased()
    {
        await using var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        using (var ingest = await writer.IngestAsync([WriterFixture.Leaf("p0", "acme", principal: "alice"), WriterFixture.Leaf("p1", "acme", principal: "bob")], 2))
        {
            ingest.EnsureSuccessStatusCode();
        }

        await writer.WaitForCheckpointAsync(2);
        var (context, page, _, _) = await OpenAsync(writer);
        await using var _ = context;
        ILocator PrincipalOf(string id) =>
            Rows(page).Filter(new() { Has = page.GetByRole(AriaRole.Button, new() { Name = $"View record {id}", Exact = true }) }).Locator("td:nth-child(3)");
        await SignInAsync(page, EraserKey);
        await Assertions.Expect(PrincipalOf("p0")).ToHaveTextAsync("alice");

        using (new Protection.OldSnapshot(writer.StorePath))
        {
            // A reader holding an old snapshot keeps the WAL from being truncated: the writer answers 503 erasure_pending
            // after deleting the keys. The page said "Erasure refused", read as nothing having happened.
            await page.GetByLabel("Subject principal").FillAsync("alice");
            await page.GetByLabel("I understand this cannot be undone").CheckAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Erase subject" }).ClickAsync();
            // The writer tries the truncation for about 10 s before it answers.
            await Assertions.Expect(page.Locator("#erasure-result")).ToContainTextAsync("Erasure applied but not complete: 503 erasure_pending", new() { Timeout = 60_000 });
        }

        await Assertions.Expect(PrincipalOf("p0")).ToHaveTextAsync("(erased)");
        await Assertions.Expect(PrincipalOf("p1")).ToHaveTextAsync("bob");
    }

    [Fact]
    public async Task Timeline_HostileFieldsInEveryShownColumn_ShowAsTextAndRunNoScript()
    {
        // Every column and the record JSON show fields the client or the configuration put there: markup, a closing script
        // tag, a javascript: URL, a zero-width space and a right-to-left override in each of them must stay text.
        const string img = "<img src=x onerror=\"document.title='owned'\">";
        const string script = "</script><script>document.title='owned'</script>";
        var leaf = AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = "hostile",
            Time = DateTimeOffset.UtcNow,
            Instance = "edge-test",
            Tenant = "acme",
            Decision = "deny",
            Route = "orders" + img,
            Method = "GET" + script,
            Path = "/orders/" + img + "?next=javascript:document.title='owned'",
            Status = 403,
            Step = "EdgeAuthorize" + img,
            Reason = "javascript:document.title='owned'\u200B\u202E" + script,
            Destination = "javascript:document.title='owned'",
            Attributes = new Dictionary<string, string> { ["user-agent"] = img + script },
            Subject = new AuditSubject { Principal = "javascript:document.title='owned'" + img + "\u200B", ClientIp = "127.0.0.1" },
        });
        await using var writer = await StartWithRecordsAsync(leaf);
        var (context, page, errors, requests) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 1 records, newest first");
        var cells = await Rows(page).First.Locator("td").AllTextContentsAsync();
        await Rows(page).First.GetByRole(AriaRole.Button).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToHaveClassAsync("ok");
        var json = JsonNode.Parse((await page.Locator("#detail-json").TextContentAsync())!)!;

        Assert.Equal("javascript:document.title='owned'" + img + "<U+200B>", cells[2]);
        Assert.Equal("orders" + img, cells[3]);
        Assert.Equal("GET" + script, cells[4]);
        Assert.Equal("/orders/" + img + "?next=javascript:document.title='owned'", cells[5]);
        Assert.Equal("EdgeAuthorize" + img, cells[8]);
        Assert.Equal("javascript:document.title='owned'<U+200B><U+202E>" + script, cells[9]);
        Assert.Equal(img + script, json["data"]!["attributes"]!["user-agent"]!.GetValue<string>());
        Assert.Equal(0, await page.Locator("main img, main script, main a").CountAsync());
        Assert.Equal("Edge audit viewer", await page.TitleAsync());
        Assert.Empty(errors);
        // An <img src=x> that became an element would have fetched /ui/x.
        Assert.All(requests, url => Assert.DoesNotContain("/ui/x", url, StringComparison.Ordinal));
    }

    [Fact]
    public async Task SignIn_AfterBrowsing_KeyOnlyInMemoryNotInStorageCookiesUrlOrPage()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, _, requests) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, newest first");
        await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 2: 100 records, newest first");
        await Rows(page).First.GetByRole(AriaRole.Button).ClickAsync();
        await Assertions.Expect(page.Locator("#proof-result")).ToHaveClassAsync("ok");

        var stored = await page.EvaluateAsync<string>(
            "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie, history.length])");
        var html = await page.ContentAsync();

        Assert.Equal("[[],[],\"\",2]", stored);
        Assert.Empty(await context.CookiesAsync());
        Assert.Equal(new Uri(writer.BaseAddress, "/ui/").AbsoluteUri, page.Url);
        Assert.Equal("", await page.Locator("#secret").InputValueAsync());
        Assert.DoesNotContain(WriterFixture.GlobalAuditorKey, html, StringComparison.Ordinal);
        Assert.All(requests, url => Assert.DoesNotContain(WriterFixture.GlobalAuditorKey, url, StringComparison.Ordinal));
    }

    [Fact]
    public async Task SignIn_BeforeTheScriptRuns_FormDoesNotSendTheKeyInTheUrl()
    {
        // Without app.js (not loaded yet, or blocked) Enter submits the form natively: a GET would put the key in the URL,
        // the history and the writer's access log. form-action 'none' keeps it on the page.
        await using var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        await using var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { JavaScriptEnabled = false });
        var page = await context.NewPageAsync();
        var requests = new List<string>();
        page.Request += (_, request) => requests.Add(request.Url);
        await page.GotoAsync(new Uri(writer.BaseAddress, "/ui/").AbsoluteUri);

        var refusal = await page.RunAndWaitForConsoleMessageAsync(
            async () =>
            {
                await page.GetByLabel("Key or token").FillAsync(WriterFixture.GlobalAuditorKey);
                await page.Keyboard.PressAsync("Enter");
            },
            new() { Predicate = message => message.Text.Contains("form-action", StringComparison.Ordinal) });

        Assert.Contains("violates the following Content Security Policy directive", refusal.Text, StringComparison.Ordinal);
        Assert.Equal(new Uri(writer.BaseAddress, "/ui/").AbsoluteUri, page.Url);
        Assert.All(requests, url => Assert.DoesNotContain(WriterFixture.GlobalAuditorKey, url, StringComparison.Ordinal));
    }

    [Fact]
    public async Task SignIn_InvalidApiKeyHeaderName_SaysSoNotThatTheWriterCannotBeReached()
    {
        await using var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        var (context, page, errors, _) = await OpenAsync(writer);
        await using var _ = context;
        await page.GetByLabel("API key header").FillAsync("X Api Key");
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#sign-in-error")).ToHaveTextAsync("The API key header name is not a valid HTTP header name.");
        await page.GetByLabel("API key header").FillAsync("X-Api-Key");
        await SignInAsync(page, "key-\u00E9t\u00E9-\u20AC");
        await Assertions.Expect(page.Locator("#sign-in-error")).ToHaveTextAsync("The key or token holds a character an HTTP header cannot carry.");

        Assert.True(await page.Locator("#app").IsHiddenAsync());
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Filters_RefusedByTheApi_ShowTheProblemAndNoCaptionOrNextPageOfTheOldAnswer()
    {
        await using var writer = await StartWriterAsync();
        var (context, page, _, _) = await OpenAsync(writer);
        await using var _ = context;
        await SignInAsync(page, WriterFixture.GlobalAuditorKey);
        await Assertions.Expect(page.Locator("#page-info")).ToHaveTextAsync("Page 1: 100 records, newest first");

        await page.GetByLabel("From", new() { Exact = true }).FillAsync("2026-11-02T00:00:01");
        await page.GetByLabel("To", new() { Exact = true }).FillAsync("2026-11-01T00:00:01");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();

        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync(
            "The query was refused: 400 invalid_time_range: from is after to: from is the inclusive start of the window, to its exclusive end.");
        Assert.Equal(0, await Rows(page).CountAsync());
        Assert.Equal("", await page.Locator("#page-info").TextContentAsync());
        Assert.True(await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).IsDisabledAsync());
        Assert.True(await page.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).IsDisabledAsync());
    }

    [Fact]
    public async Task Ui_Response_CarriesStrictContentSecurityPolicyAndNoStorage()
    {
        await using var writer = await StartWriterAsync();
        using var client = writer.Client();

        using var index = await client.GetAsync("/ui/");
        using var script = await client.GetAsync("/ui/app.js");
        using var missing = await client.GetAsync("/ui/secrets.txt");
        var js = await script.Content.ReadAsStringAsync();
        var html = await index.Content.ReadAsStringAsync();

        Assert.Equal(ViewerEndpoints.ContentSecurityPolicy, index.Headers.GetValues("Content-Security-Policy").Single());
        Assert.StartsWith("default-src 'self'", ViewerEndpoints.ContentSecurityPolicy, StringComparison.Ordinal);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType!.MediaType);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        Assert.Equal("not_found", JsonNode.Parse(await missing.Content.ReadAsStringAsync())!["code"]!.GetValue<string>());
        Assert.DoesNotContain("localStorage", js, StringComparison.Ordinal);
        Assert.DoesNotContain("sessionStorage", js, StringComparison.Ordinal);
        Assert.DoesNotContain("document.cookie", js, StringComparison.Ordinal);
        Assert.DoesNotContain("innerHTML", js, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/ui/")]
    [InlineData("/ui/app.js")]
    [InlineData("/ui/app.css")]
    [InlineData("/ui/favicon.svg")]
    public async Task Ui_PageAndEachAsset_CarryTheFramingSniffingReferrerAndOpenerHeaders(string path)
    {
        await using var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        using var client = writer.Client();

        using var response = await client.GetAsync(path);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(ViewerEndpoints.ContentSecurityPolicy, response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("same-origin", response.Headers.GetValues("Cross-Origin-Opener-Policy").Single());
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Ui_FramedByAnotherPage_IsNotRendered()
    {
        await using var writer = await WriterFixture.StartAsync(proxyJson: ProxyJson());
        await using var context = await chromium.Browser.NewContextAsync();
        var page = await context.NewPageAsync();

        await page.SetContentAsync($"<iframe id=\"viewer\" src=\"{new Uri(writer.BaseAddress, "/ui/").AbsoluteUri}\" onload=\"document.title='loaded'\"></iframe>");
        await Assertions.Expect(page).ToHaveTitleAsync("loaded");
        var frame = await (await page.QuerySelectorAsync("#viewer"))!.ContentFrameAsync();

        Assert.NotNull(frame);
        Assert.Equal(0, await frame.Locator("#sign-in-form").CountAsync());
    }

    private static string ProxyJson() => $$"""
        {
          "ReverseProxy": { "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/x" } } }, "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } } },
          "Edge": {
            "Authentication": {
              "auditors": { "Type": "ApiKey", "Header": "X-Api-Key", "Keys": [
                { "Sha256": "{{Sha(WriterFixture.AcmeAuditorKey)}}", "Principal": "acme-auditor", "Tenant": "acme", "Roles": [ "TenantAuditor" ] },
                { "Sha256": "{{Sha(WriterFixture.GlobalAuditorKey)}}", "Principal": "compliance", "Tenant": "ops", "Roles": [ "Auditor" ] },
                { "Sha256": "{{Sha(EraserKey)}}", "Principal": "dpo", "Tenant": "ops", "Roles": [ "Auditor", "Eraser" ] }
              ] }
            },
            "Roles": { "Auditor": [ "audit.read.all" ], "TenantAuditor": [ "audit.read" ], "Eraser": [ "audit.erase" ] }
          }
        }
        """;

    private static string Sha(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>Holds every request of the page matching <paramref name="glob"/> until the returned source is set.</summary>
    private static async Task<TaskCompletionSource> HoldRequestsAsync(IPage page, string glob)
    {
        var release = new TaskCompletionSource();
        await page.RouteAsync(glob, async route =>
        {
            await release.Task;
            await route.ContinueAsync();
        });
        return release;
    }

    /// <summary>
    /// Signs out while a held request waits, then lets it be answered. The page parses the answer after the request
    /// finished: it is given the time it took to render the first page.
    /// </summary>
    private static async Task SignOutThenAnswerAsync(IPage page, TaskCompletionSource release, string urlPart)
    {
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        var finished = page.WaitForRequestFinishedAsync(new() { Predicate = r => r.Url.Contains(urlPart, StringComparison.Ordinal) });
        release.SetResult();
        await finished;
        await page.WaitForTimeoutAsync(1000);
    }
}
