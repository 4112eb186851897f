using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.FunctionalTests.Hostile;

namespace Edge.FunctionalTests.Validation;

/// <summary>
/// <c>EdgeValidate</c> on a real edge: what is refused gets problem+json with the right status, code and pointers, is
/// never forwarded and is audited as answered; what passes reaches the backend byte for byte.
/// </summary>
public sealed class ValidateStepTests(ValidationEdgeFixture fixture) : IClassFixture<ValidationEdgeFixture>
{
    [Fact]
    public async Task Post_ValidBodyWithNonAsciiAndWhitespace_ForwardedByteIdentical()
    {
        // Key order, spacing, escapes and non-ASCII survive only if the edge forwards the bytes it read, not a re-serialization.
        var body = Encoding.UTF8.GetBytes("{ \"currency\" :\"EUR\",\n\t\"amount\": 12 ,\"note\":\"Grüße, 東京 \\u00e9 \\ud83d\\ude00 😀\",  \"customer\":{\"id\":\"c-1\"}   }\r\n");
        var path = "/orders/valid-" + Guid.NewGuid().ToString("N");

        using var response = await PostAsync(path, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(body, fixture.LastForwardedBody(path));
    }

    [Fact]
    public async Task Post_ValidBodyChunked_ForwardedByteIdentical()
    {
        var body = Encoding.UTF8.GetBytes("""{"amount":3,"currency":"USD","items":[{"sku":"ä-1","qty":2}]}""");
        var path = "/orders/chunked-" + Guid.NewGuid().ToString("N");
        using var content = new StreamContent(new MemoryStream(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await fixture.Edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(body, fixture.LastForwardedBody(path));
    }

    [Fact]
    public async Task Post_SchemaViolations_422WithPointersAndNothingForwarded()
    {
        var path = "/orders/bad-" + Guid.NewGuid().ToString("N");
        var body = """{"amount":"12","currency":"eur","extra":true,"customer":{"tags":["a",7]},"items":[{"sku":"x"},{"qty":1}]}""";

        using var response = await PostAsync(path, Encoding.UTF8.GetBytes(body));

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        var errors = Errors(problem);
        Assert.Contains(("/amount", "expected type integer"), errors);
        Assert.Contains(("/currency", "does not match the required pattern"), errors);
        Assert.Contains(("/extra", "property not allowed"), errors);
        Assert.Contains(("/customer", "required property missing: id"), errors);
        Assert.Contains(("/customer/tags/1", "expected type string"), errors);
        Assert.Contains(("/items/1", "required property missing: sku"), errors);
        Assert.Equal(0, fixture.BackendCalls(path));
        Assert.DoesNotContain("eur", problem.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_MissingRequiredAtRoot_PointerIsTheRoot()
    {
        using var response = await PostAsync("/orders/x", Encoding.UTF8.GetBytes("""{"currency":"EUR"}"""));

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        Assert.Equal([("", "required property missing: amount")], Errors(problem));
    }

    [Fact]
    public async Task Post_SchemaViolation_AuditedWithCodeAndStatus()
    {
        using var response = await PostAsync("/orders/audited", Encoding.UTF8.GetBytes("""{"amount":0,"currency":"EUR"}"""));

        await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        var audit = await fixture.AuditDataAsync(Assert.Single(response.Headers.GetValues("X-Request-Id")));
        Assert.Equal("deny", audit.GetProperty("decision").GetString());
        Assert.Equal(422, audit.GetProperty("status").GetInt32());
        Assert.Equal("body_invalid:schema", audit.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Post_ManyViolations_AtMost20Errors()
    {
        var items = string.Join(",", Enumerable.Range(0, 100).Select(i => "{}"));

        using var response = await PostAsync("/orders/many", Encoding.UTF8.GetBytes($$"""{"amount":1,"currency":"EUR","items":[{{items}}]}"""));

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        Assert.Equal(20, Errors(problem).Count);
    }

    [Theory]
    [InlineData("{\"amount\":1,", "malformed_json", "the body is not valid JSON")]
    [InlineData("{\"amount\":1,\"currency\":\"EUR\"} trailing", "malformed_json", "the body is not valid JSON")]
    [InlineData("{\"amount\":1,\"currency\":\"EUR\",\"amount\":\"x\"}", "duplicate_property", "an object repeats a property name")]
    [InlineData("{\"amount\":1,\"currency\":\"EUR\",/* c */\"note\":\"a\"}", "malformed_json", "the body is not valid JSON")]
    public async Task Post_UnparsableBody_422WithRootPointer(string body, string reason, string detail)
    {
        var path = "/orders/unparsable-" + Guid.NewGuid().ToString("N");

        using var response = await PostAsync(path, Encoding.UTF8.GetBytes(body));

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        Assert.Equal([("", detail)], Errors(problem));
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(Assert.Single(response.Headers.GetValues("X-Request-Id")));
        Assert.Equal("body_invalid:" + reason, audit.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("{\"amount\":1e400,\"currency\":\"EUR\"}")]
    [InlineData("{\"amount\":99999999999999999999999999999,\"currency\":\"EUR\"}")]
    [InlineData("{\"amount\":1,\"currency\":\"EUR\",\"note\":\"\\ud800\"}")]
    [InlineData("{\"amount\":1,\"currency\":\"EUR\",\"note\":\"a\\udc00b\"}")]
    [InlineData("{\"amount\":1,\"currency\":\"EUR\",\"\\ud800\":1}")]
    [InlineData("{\"amount\":0.99999999999999999999999999999,\"currency\":\"EUR\"}")]
    [InlineData("{\"amount\":1.00000000000000000000000000001,\"currency\":\"EUR\"}")]
    [InlineData("{\"amount\":1e-30,\"currency\":\"EUR\"}")]
    [InlineData("{\"amount\":-0.00000000000000000000000000001,\"currency\":\"EUR\"}")]
    [InlineData("{\"amount\":1,\"currency\":\"EUR\",\"items\":[{\"sku\":\"a\",\"qty\":2.00000000000000000000000000001}]}")]
    public async Task Post_ValueTheValidatorCannotRead_422UnreadableValue(string body)
    {
        // A number beyond decimal's range or an unpaired surrogate escape made the schema evaluator (or the strict
        // parse) throw: the client got 500 edge_pipeline_error, or 502 backend_unavailable for a property name. A number
        // decimal holds only rounded was judged rounded: 0.99999999999999999999999999999 passed "integer, minimum 1" as 1.
        var path = "/orders/unreadable-" + Guid.NewGuid().ToString("N");

        using var response = await PostAsync(path, Encoding.UTF8.GetBytes(body));

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        Assert.Equal([("", "the body holds a number or string the validator cannot read")], Errors(problem));
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(Assert.Single(response.Headers.GetValues("X-Request-Id")));
        Assert.Equal(422, audit.GetProperty("status").GetInt32());
        Assert.Equal("body_invalid:unreadable_value", audit.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("{\"amount\":1,\"currency\":\"EUR\",\"meta\":{\"reading\":1e-30}}")]
    [InlineData("{\"amount\":1,\"currency\":\"EUR\",\"meta\":{\"reading\":-4.9e-324,\"ratio\":0.12345678901234567890123456789012}}")]
    [InlineData("{\"amount\":1,\"currency\":\"EUR\",\"meta\":{\"big\":1234567890.1234567890123456789012345,\"avogadro\":6.02214076e23}}")]
    [InlineData("{\"amount\":1,\"currency\":\"EUR\",\"meta\":{\"samples\":[1e-30,2e-30,1e-30]}}")]
    public async Task Post_RoundedNumberNoRuleChecks_ForwardedByteIdentical(string json)
    {
        // Any number decimal holds only rounded was refused 422 unreadable_value, even in a free-form object no rule
        // looks into: a sensor reading of 1e-30 or a double's smallest value cost the client its request.
        var body = Encoding.UTF8.GetBytes(json);
        var path = "/orders/rounded-free-" + Guid.NewGuid().ToString("N");

        using var response = await PostAsync(path, body);

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal(body, fixture.LastForwardedBody(path));
    }

    [Fact]
    public async Task Post_ValidBodyAfterUnreadableValue_StillValidated()
    {
        // The evaluator that threw is not reused: the next invalid body is still refused with its pointer.
        using (await PostAsync("/orders/unreadable-first", Encoding.UTF8.GetBytes("{\"amount\":1e400,\"currency\":\"EUR\"}")))
        {
        }

        using var response = await PostAsync("/orders/after-unreadable", Encoding.UTF8.GetBytes("{\"amount\":0,\"currency\":\"EUR\"}"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        Assert.Equal([("/amount", "must be at least 1")], Errors(problem));
    }

    [Fact]
    public async Task Post_PatternAnchorWithTrailingNewline_422()
    {
        // JSON Schema patterns are ECMA-262: '$' is the end of the string. .NET's '$' also matches before a final
        // newline, so "EUR\n" passed "^[A-Z]{3}$" and reached the backend.
        var path = "/orders/newline-" + Guid.NewGuid().ToString("N");

        using var response = await PostAsync(path, Encoding.UTF8.GetBytes("{\"amount\":1,\"currency\":\"EUR\\n\"}"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        Assert.Equal([("/currency", "does not match the required pattern")], Errors(problem));
        Assert.Equal(0, fixture.BackendCalls(path));
    }

    [Fact]
    public async Task Post_InvalidUtf8_422Malformed()
    {
        byte[] body = [.. "{\"amount\":1,\"currency\":\""u8, 0xC3, 0x28, .. "\"}"u8];

        using var response = await PostAsync("/orders/utf8", body);

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        Assert.Equal([("", "the body is not valid JSON")], Errors(problem));
    }

    [Fact]
    public async Task Post_TooDeep_422BeforeSchemaEvaluation()
    {
        // Depth 9 inside an object the schema accepts ("meta" is any object): only the depth limit refuses it.
        var nested = new string('[', ValidationEdgeFixture.OrdersMaxDepth) + new string(']', ValidationEdgeFixture.OrdersMaxDepth);
        var path = "/orders/deep-" + Guid.NewGuid().ToString("N");

        using var response = await PostAsync(path, Encoding.UTF8.GetBytes($$$"""{"amount":1,"currency":"EUR","meta":{"x":{{{nested}}}}}"""));

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        Assert.Equal([("", $"the body nests deeper than {ValidationEdgeFixture.OrdersMaxDepth} levels")], Errors(problem));
        Assert.Equal(0, fixture.BackendCalls(path));
    }

    [Fact]
    public async Task Post_ExactlyMaxDepth_Accepted()
    {
        var nested = new string('[', ValidationEdgeFixture.OrdersMaxDepth - 3) + new string(']', ValidationEdgeFixture.OrdersMaxDepth - 3);

        using var response = await PostAsync("/orders/depth-ok", Encoding.UTF8.GetBytes($$$"""{"amount":1,"currency":"EUR","meta":{"x":{{{nested}}}}}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Post_OverMaxBodyBytesDeclared_413()
    {
        var path = "/orders/large-" + Guid.NewGuid().ToString("N");
        var body = Encoding.UTF8.GetBytes($$"""{"amount":1,"currency":"EUR","note":"{{new string('a', ValidationEdgeFixture.OrdersMaxBodyBytes)}}"}""");

        using var response = await PostAsync(path, body);

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body_too_large");
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(Assert.Single(response.Headers.GetValues("X-Request-Id")));
        Assert.Equal(413, audit.GetProperty("status").GetInt32());
        Assert.Equal("body_too_large:content_length", audit.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Post_OverMaxBodyBytesChunked_413WhileReading()
    {
        var path = "/orders/large-chunked-" + Guid.NewGuid().ToString("N");
        var body = new string('a', ValidationEdgeFixture.OrdersMaxBodyBytes + 10);

        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{body.Length:x}\r\n{body}\r\n0\r\n\r\n");

        Assert.Equal(413, response.Status);
        Assert.Equal("body_too_large", response.ProblemCode());
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal("body_too_large:streamed", audit.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("application/json; charset=utf-16")]
    [InlineData("application/json; charset=\"utf-7\"")]
    [InlineData("application/json; charset=iso-8859-1")]
    [InlineData("application/json; charset=utf-8; charset=utf-16")]
    public async Task Post_JsonWithCharsetOtherThanUtf8_415(string contentType)
    {
        // The schema checked the bytes as UTF-8, and they were forwarded with a charset a backend may honour (ASP.NET
        // Core's JSON input formatter transcodes from it): the backend could read other text than the edge validated.
        var path = "/orders/charset-" + Guid.NewGuid().ToString("N");

        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {contentType}\r\nContent-Length: 29\r\nConnection: close\r\n\r\n{{\"amount\":1,\"currency\":\"EUR\"}}");

        Assert.Equal(415, response.Status);
        Assert.Equal("unsupported_media_type", response.ProblemCode());
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal("unsupported_media_type:charset", audit.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json; charset=\"UTF-8\"")]
    [InlineData("application/json;charset=utf8")]
    public async Task Post_JsonWithUtf8Charset_Accepted(string contentType)
    {
        var path = "/orders/utf8-charset-" + Guid.NewGuid().ToString("N");

        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {contentType}\r\nContent-Length: 29\r\nConnection: close\r\n\r\n{{\"amount\":1,\"currency\":\"EUR\"}}");

        Assert.Equal(200, response.Status);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData(null)]
    public async Task Post_ContentTypeNotAccepted_415(string? contentType)
    {
        var path = "/orders/type-" + Guid.NewGuid().ToString("N");
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"amount":1,"currency":"EUR"}"""));
        if (contentType is not null)
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        using var response = await fixture.Edge.Client.PostAsync(path, content);

        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Equal("application/json, application/*+json", Assert.Single(response.Headers.GetValues("Accept-Post")));
        Assert.Equal(0, fixture.BackendCalls(path));
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("identity, br")]
    public async Task Post_ContentCodedBody_415WithAcceptEncodingIdentity(string coding)
    {
        var path = "/orders/coded-" + Guid.NewGuid().ToString("N");
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"amount":1,"currency":"EUR"}"""));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.TryAddWithoutValidation("Content-Encoding", coding);

        using var response = await fixture.Edge.Client.PostAsync(path, content);

        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Equal("identity", Assert.Single(response.Headers.GetValues("Accept-Encoding")));
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(Assert.Single(response.Headers.GetValues("X-Request-Id")));
        Assert.Equal("unsupported_media_type:content_encoding", audit.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Patch_ContentTypeNotAccepted_415WithAcceptPatch()
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("a=1"));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");

        using var response = await fixture.Edge.Client.PatchAsync("/orders/patch", content);

        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Equal("application/json, application/*+json", Assert.Single(response.Headers.GetValues("Accept-Patch")));
    }

    [Fact]
    public async Task Post_IdentityContentCoding_Forwarded()
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"amount":1,"currency":"EUR"}"""));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        content.Headers.TryAddWithoutValidation("Content-Encoding", "identity");

        using var response = await fixture.Edge.Client.PostAsync("/orders/identity", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("Application/JSON")]
    [InlineData("application/vnd.orders+json")]
    public async Task Post_AcceptedContentTypeVariants_Forwarded(string contentType)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"amount":1,"currency":"EUR"}"""));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);

        using var response = await fixture.Edge.Client.PostAsync("/orders/type-ok", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Post_EmptyBody_422BodyRequired()
    {
        var path = "/orders/empty-" + Guid.NewGuid().ToString("N");
        using var content = new ByteArrayContent([]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await fixture.Edge.Client.PostAsync(path, content);

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        Assert.Equal([("", "a JSON body is required")], Errors(problem));
        Assert.Equal(0, fixture.BackendCalls(path));
    }

    [Fact]
    public async Task Get_NoBody_Forwarded()
    {
        using var response = await fixture.Edge.Client.GetAsync("/orders/list");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("?q=shoes", HttpStatusCode.OK)]
    [InlineData("?q=shoes&page=12&sort=desc", HttpStatusCode.OK)]
    [InlineData("?q=", HttpStatusCode.OK)]
    [InlineData("?Q=shoes", HttpStatusCode.OK)]
    public async Task Get_QueryWithinRules_Forwarded(string query, HttpStatusCode expected)
    {
        using var response = await fixture.Edge.Client.GetAsync("/search/items" + query);

        Assert.Equal(expected, response.StatusCode);
    }

    [Theory]
    [InlineData("", "q", "required parameter missing", "required")]
    [InlineData("?q=shoes&page=1234", "page", "does not match the required pattern", "pattern")]
    [InlineData("?q=shoes&page=12abc", "page", "does not match the required pattern", "pattern")]
    [InlineData("?q=shoes&page=1&page=x", "page", "does not match the required pattern", "pattern")]
    [InlineData("?q=shoes&sort=ascdesc", "sort", "does not match the required pattern", "pattern")]
    [InlineData("?q=aaaaaaaaaaaaaaaaaaaaa", "q", "must be at most 20 characters long", "max_length")]
    [InlineData("?q=shoes&debug=1", "debug", "parameter not allowed", "unknown")]
    [InlineData("?q=shoes;page=1234", "page", "does not match the required pattern", "pattern")] // page=1234 to Rack 2 and older Python
    [InlineData("?q=shoes;debug=1", "debug", "parameter not allowed", "unknown")]
    public async Task Get_QueryBreaksRule_422QueryInvalid(string query, string parameter, string detail, string reason)
    {
        var path = "/search/" + Guid.NewGuid().ToString("N");

        using var response = await fixture.Edge.Client.GetAsync(path + query);

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "query_invalid");
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal(parameter, error.GetProperty("parameter").GetString());
        Assert.Equal(detail, error.GetProperty("detail").GetString());
        Assert.False(error.TryGetProperty("pointer", out _));
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(Assert.Single(response.Headers.GetValues("X-Request-Id")));
        Assert.Equal("query_invalid:" + reason, audit.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData(20, HttpStatusCode.OK)]
    [InlineData(21, HttpStatusCode.UnprocessableEntity)]
    public async Task Get_QueryMaxLength_CountsCharactersNotUtf16Units(int emojis, HttpStatusCode expected)
    {
        // U+1F600 is one character and two UTF-16 units: counted in units, 11 of them broke a 20-character limit.
        var path = "/search/" + Guid.NewGuid().ToString("N");
        var q = string.Concat(Enumerable.Repeat("%F0%9F%98%80", emojis));

        using var response = await fixture.Edge.Client.GetAsync(path + "?q=" + q);

        Assert.Equal(expected, response.StatusCode);
    }

    [Theory]
    [InlineData("?page[]=x", "page[]")]
    [InlineData("?page[a]=x", "page[a]")]
    [InlineData("?user.id=1%20OR%201=1", "user.id")]
    [InlineData("?user%20id=x", "user id")]
    [InlineData("?USER.ID=x", "USER.ID")]
    [InlineData("?page%00=x", "page\0")]
    [InlineData("?page%00junk=x", "page\0junk")]
    [InlineData("?user.id%00[=x", "user.id\0[")]
    [InlineData("?other=x;page=abc", "page")] // Rack 2 (Rails up to 7.0) and Python before 3.9.2 split the query at ';' too
    [InlineData("?other=x;%20page[]=abc", " page[]")]
    public async Task Get_UnknownAllowed_NameABackendReadsAsARuledParameter_422(string query, string parameter)
    {
        // PHP reads page[] as page and user.id as user_id (Rails and Express read page[] as page), and a name up to its
        // first NUL (page%00junk is page); Rack 2 and older Python read x;page=abc as a parameter page: with unknown names
        // allowed, these skipped the rule of the parameter the backend got.
        var path = "/open-search/" + Guid.NewGuid().ToString("N");

        using var response = await fixture.Edge.Client.GetAsync(path + query);

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "query_invalid");
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal(parameter, error.GetProperty("parameter").GetString());
        Assert.Equal("does not match the required pattern", error.GetProperty("detail").GetString());
        Assert.Equal(0, fixture.BackendCalls(path));
    }

    [Theory]
    [InlineData("?page[]=12&user.id=7")]
    [InlineData("?other[]=x&other.name=y&pager=z")]
    [InlineData("?other=x;page=12")]
    [InlineData("?other=a;b;;c=d")]
    public async Task Get_UnknownAllowed_AliasesWithValidValuesOrOtherNames_Forwarded(string query)
    {
        using var response = await fixture.Edge.Client.GetAsync("/open-search/ok" + query);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Post_QueryOnlyPolicy_BodyNotBufferedNorCapped()
    {
        // A policy without body rules must not impose the 1 MiB default cap on an upload route.
        var path = "/search/upload-" + Guid.NewGuid().ToString("N");
        var body = new byte[(2 * 1024 * 1024) + 1];
        Random.Shared.NextBytes(body);
        using var content = new ByteArrayContent(body);

        using var response = await fixture.Edge.Client.PostAsync(path + "?q=x", content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(body, fixture.LastForwardedBody(path));
    }

    [Fact]
    public async Task Get_CatastrophicPatternValue_RefusedAfterTheTimeoutNotHung()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();

        using var response = await fixture.Edge.Client.GetAsync("/search/slow?q=x&slow=" + new string('a', 40));

        await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "query_invalid");
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"took {started.Elapsed}");
        var audit = await fixture.AuditDataAsync(Assert.Single(response.Headers.GetValues("X-Request-Id")));
        Assert.Equal("query_invalid:pattern_timeout", audit.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Get_ManyNamesABackendReadsAsASlowParameter_CheckingStopsAtTheFirstTimeout()
    {
        // slow[0] ... slow[29] are all "slow" to PHP, so each value is checked by its pattern: each ran to the 100 ms
        // timeout, and one request of 7 KB (200 such names) kept the edge busy for 20 s.
        var path = "/open-search/" + Guid.NewGuid().ToString("N");
        var query = string.Join("&", Enumerable.Range(0, 30).Select(i => $"slow[{i}]={new string('a', 40)}"));

        using var response = await fixture.Edge.Client.GetAsync(path + "?" + query);

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "query_invalid");
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal("slow[0]", error.GetProperty("parameter").GetString());
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(Assert.Single(response.Headers.GetValues("X-Request-Id")));
        Assert.Equal("query_invalid:pattern_timeout", audit.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Get_QueryValueNeverEchoed()
    {
        using var response = await fixture.Edge.Client.GetAsync("/search/x?q=shoes&page=SECRET123");

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "query_invalid");
        Assert.DoesNotContain("SECRET", problem.GetRawText(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/hooks/after/")]
    [InlineData("/hooks/before/")]
    public async Task Webhook_ValidSignatureAndSchema_BothStepsShareTheBodyAndItIsForwardedIdentical(string prefix)
    {
        var path = prefix + Guid.NewGuid().ToString("N");
        // GitHub deliveries carry no timestamp, so the edge remembers each signature: every case signs a body of its own.
        var body = Encoding.UTF8.GetBytes($"{{ \"action\" : \"opened\", \"zeichen\": \"ä\", \"path\": \"{path}\" }}");

        using var response = await fixture.Edge.Client.SendAsync(GitHubDelivery(path, body, Sign(body)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(body, fixture.LastForwardedBody(path));
    }

    [Fact]
    public async Task Webhook_SignedButSchemaInvalid_422AfterTheSignatureVerified()
    {
        var path = "/hooks/after/" + Guid.NewGuid().ToString("N");
        var body = Encoding.UTF8.GetBytes("""{"action":"deleted"}""");

        using var response = await fixture.Edge.Client.SendAsync(GitHubDelivery(path, body, Sign(body)));

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "body_invalid");
        Assert.Equal([("/action", "value is not one of the allowed values")], Errors(problem));
        Assert.Equal(0, fixture.BackendCalls(path));
    }

    [Fact]
    public async Task Webhook_ValidSchemaBadSignature_401FromTheWebhookStepAfterValidation()
    {
        var path = "/hooks/before/" + Guid.NewGuid().ToString("N");
        var body = Encoding.UTF8.GetBytes("""{"action":"closed"}""");

        using var response = await fixture.Edge.Client.SendAsync(GitHubDelivery(path, body, Sign("""{"action":"opened"}"""u8.ToArray())));

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "signature_invalid");
        Assert.Equal(0, fixture.BackendCalls(path));
    }

    [Fact]
    public async Task Webhook_BodyOverTheSmallerValidationCap_413DecidedByValidation()
    {
        // The webhook allows 64 KiB, the validation policy 2 KiB: the route's cap is the smaller one.
        var path = "/hooks/after/" + Guid.NewGuid().ToString("N");
        var body = Encoding.UTF8.GetBytes($$"""{"action":"opened","pad":"{{new string('p', 3000)}}"}""");

        using var response = await fixture.Edge.Client.SendAsync(GitHubDelivery(path, body, Sign(body)));

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body_too_large");
        Assert.Equal(0, fixture.BackendCalls(path));
    }

    private async Task<HttpResponseMessage> PostAsync(string path, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return await fixture.Edge.Client.PostAsync(path, content);
    }

    private static HttpRequestMessage GitHubDelivery(string path, byte[] body, string signature)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Add("X-GitHub-Event", "issues");
        request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
        request.Headers.Add("X-Hub-Signature-256", signature);
        return request;
    }

    private static string Sign(byte[] body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(ValidationEdgeFixture.GitHubSecret), body));

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    private static List<(string Pointer, string Detail)> Errors(JsonElement problem) =>
        problem.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("pointer").GetString()!, e.GetProperty("detail").GetString()!)).ToList();
}
