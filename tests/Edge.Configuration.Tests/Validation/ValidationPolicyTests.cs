using Edge.Configuration.Validation;

namespace Edge.Configuration.Tests.Validation;

public sealed class ValidationPolicyTests : IDisposable
{
    private readonly SchemaFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void TryCreate_SchemaOnly_DefaultsToJsonAnd1MiBAndDepth64()
    {
        _files.Write("orders.json", SchemaFiles.OrderSchema);

        var policy = Create(new ValidationPolicyOptions { JsonSchema = "file:orders.json" }, out var errors);

        Assert.Empty(errors.Items);
        Assert.NotNull(policy!.Schema);
        Assert.Equal(ValidationPolicyOptions.DefaultMaxBodyBytes, policy.MaxBodyBytes);
        Assert.Equal(64, policy.MaxJsonDepth);
        Assert.Equal("application/json", Assert.Single(policy.ContentTypes).ToString());
    }

    [Fact]
    public void TryCreate_QueryOnly_DoesNotCheckTheBody()
    {
        var policy = Create(new ValidationPolicyOptions
        {
            Query = new() { Parameters = new Dictionary<string, QueryParameterOptions> { ["page"] = new() { Pattern = "[0-9]+" } } },
        }, out var errors);

        Assert.Empty(errors.Items);
        Assert.False(policy!.ChecksBody);
        Assert.Null(policy.MaxBodyBytes);
    }

    [Fact]
    public void TryCreate_QueryPattern_AnchoredOverTheWholeValue()
    {
        var policy = Create(new ValidationPolicyOptions
        {
            Query = new() { Parameters = new Dictionary<string, QueryParameterOptions> { ["page"] = new() { Pattern = "[0-9]+" } } },
        }, out _);

        var pattern = policy!.Query!.Parameters["page"].Pattern!;
        Assert.Matches(pattern, "42");
        Assert.DoesNotMatch(pattern, "42abc");
        Assert.DoesNotMatch(pattern, "42\n");
        Assert.Equal(ValidationPolicy.PatternTimeout, pattern.MatchTimeout);
    }

    [Fact]
    public void TryCreate_CatastrophicQueryPattern_MatchTimesOutInsteadOfRunningOn()
    {
        var policy = Create(new ValidationPolicyOptions
        {
            Query = new() { Parameters = new Dictionary<string, QueryParameterOptions> { ["slow"] = new() { Pattern = "(a+)+b" } } },
        }, out _);
        var pattern = policy!.Query!.Parameters["slow"].Pattern!;
        var started = System.Diagnostics.Stopwatch.StartNew();

        Assert.Throws<System.Text.RegularExpressions.RegexMatchTimeoutException>(() => pattern.IsMatch(new string('a', 40)));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"took {started.Elapsed}");
    }

    [Fact]
    public void TryCreate_MissingSchemaFile_ErrorNamesTheFile()
    {
        Create(new ValidationPolicyOptions { JsonSchema = "file:nope.json" }, out var errors);

        var error = Assert.Single(errors.Errors);
        Assert.Equal("Edge:Validation:p:JsonSchema", error.Location);
        Assert.Contains("nope.json' does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryCreate_SchemaNotJson_ErrorWithLine()
    {
        _files.Write("broken.json", "{\n  \"type\": \"object\",\n  oops\n}");

        Create(new ValidationPolicyOptions { JsonSchema = "file:broken.json" }, out var errors);

        var error = Assert.Single(errors.Errors);
        Assert.Contains("is not valid JSON (line 3", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\n  \"$schema\": \"https://json-schema.org/draft/2020-12/schema@\"\n}", 2)]
    [InlineData("{\n  \"$ref\": \"#/$defs/@\"\n}", 2)]
    [InlineData("{\n  \"properties\": {\n    \"a@\": { \"type\": \"string\" }\n  }\n}", 3)]
    [InlineData("{\n  \"$ref\": \"#/$defs/\\ud800\"\n}", 2)]
    public void TryCreate_SchemaTextNotUtf8_ErrorWithLineInsteadOfACrash(string schema, int line)
    {
        // Before: an InvalidOperationException out of the validator; `edge config validate` died with a stack trace.
        var path = Path.Combine(_files.Directory, "text.json");
        File.WriteAllBytes(path, [.. System.Text.Encoding.UTF8.GetBytes(schema).Select(b => b == (byte)'@' ? (byte)0xFF : b)]);

        Create(new ValidationPolicyOptions { JsonSchema = "file:text.json" }, out var errors);

        var error = Assert.Single(errors.Errors);
        Assert.Equal("Edge:Validation:p:JsonSchema", error.Location);
        Assert.Contains("not valid UTF-8", error.Message, StringComparison.Ordinal);
        Assert.Contains($"(line {line}, byte ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type": 5}""", "is not a valid JSON Schema")]
    [InlineData("""{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}""", "only draft 2020-12")]
    [InlineData("""{"$ref": "https://example.com/order.json"}""", "only references inside the file")]
    [InlineData("""{"properties": {"a": {"$ref": "#/$defs/missing"}}}""", "which it does not define")]
    [InlineData("""{"properties": {"a": {"type": "string", "pattern": "(["}}}""", "is not a valid JSON Schema")]
    [InlineData("""[1, 2]""", "must hold a JSON object")]
    public void TryCreate_InvalidSchema_ConfigError(string schema, string expected)
    {
        _files.Write("s.json", schema);

        Create(new ValidationPolicyOptions { JsonSchema = "file:s.json" }, out var errors);

        Assert.Contains(errors.Errors, e => e.Location == "Edge:Validation:p:JsonSchema" && e.Message.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void TryCreate_LocalAnchorReference_Accepted()
    {
        _files.Write("s.json", """{"$defs": {"id": {"$anchor": "id", "type": "string"}}, "properties": {"a": {"$ref": "#id"}}}""");

        var policy = Create(new ValidationPolicyOptions { JsonSchema = "file:s.json" }, out var errors);

        Assert.Empty(errors.Items);
        // The anchor resolves: "a" must be a string, as the referenced definition says.
        var bodyErrors = new List<BodyError>();
        using (var valid = System.Text.Json.JsonDocument.Parse("""{"a": "x"}"""))
        {
            Assert.True(policy!.Schema!.Evaluate(valid.RootElement, bodyErrors, 20));
        }

        using var invalid = System.Text.Json.JsonDocument.Parse("""{"a": 1}""");
        Assert.False(policy.Schema.Evaluate(invalid.RootElement, bodyErrors, 20));
        Assert.Contains(bodyErrors, e => e.Pointer == "/a");
    }

    [Theory]
    [InlineData("env:SCHEMA")]
    [InlineData("schemas/orders.json")]
    [InlineData("file:")]
    public void TryCreate_NotAFileReference_Error(string reference)
    {
        Create(new ValidationPolicyOptions { JsonSchema = reference }, out var errors);

        Assert.Contains(errors.Errors, e => e.Location == "Edge:Validation:p:JsonSchema" && e.Message.Contains("file: reference", StringComparison.Ordinal));
    }

    [Fact]
    public void TryCreate_BadLimitsContentTypesAndPattern_EveryErrorReported()
    {
        Create(new ValidationPolicyOptions
        {
            MaxBodyBytes = 0,
            ContentTypes = ["application/json", "json", "*/*"],
            Query = new()
            {
                Parameters = new Dictionary<string, QueryParameterOptions> { ["page"] = new() { Pattern = "([0-9]", MaxLength = -1 } },
            },
        }, out var errors);

        var locations = errors.Errors.Select(e => e.Location).ToList();
        Assert.Contains("Edge:Validation:p:MaxBodyBytes", locations);
        Assert.Contains("Edge:Validation:p:ContentTypes[1]", locations);
        Assert.Contains("Edge:Validation:p:ContentTypes[2]", locations);
        Assert.Contains("Edge:Validation:p:Query:Parameters:page:Pattern", locations);
        Assert.Contains("Edge:Validation:p:Query:Parameters:page:MaxLength", locations);
    }

    [Fact]
    public void TryCreate_QueryParameterGivenTwiceInAnotherCase_ErrorInsteadOfDroppingTheFirstRule()
    {
        // The rules compare names case-insensitively, so the later entry replaced the earlier one: the Pattern on
        // dryRun was silently gone and ?dryRun=anything passed.
        var policy = Create(new ValidationPolicyOptions
        {
            Query = new()
            {
                Parameters = new Dictionary<string, QueryParameterOptions>
                {
                    ["dryRun"] = new() { Pattern = "true|false" },
                    ["DRYRUN"] = new() { MaxLength = 100 },
                },
            },
        }, out var errors);

        var error = Assert.Single(errors.Errors);
        Assert.Equal("Edge:Validation:p:Query:Parameters:DRYRUN", error.Location);
        Assert.Contains("'dryRun' is already defined", error.Message, StringComparison.Ordinal);
        Assert.Null(policy);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(257)]
    public void TryCreate_DepthOutOfRange_Error(int depth)
    {
        _files.Write("orders.json", SchemaFiles.OrderSchema);

        Create(new ValidationPolicyOptions { JsonSchema = "file:orders.json", MaxJsonDepth = depth }, out var errors);

        Assert.Contains(errors.Errors, e => e.Location == "Edge:Validation:p:MaxJsonDepth");
    }

    [Fact]
    public void TryCreate_EmptyPolicy_ErrorBecauseItChecksNothing()
    {
        Create(new ValidationPolicyOptions(), out var errors);

        Assert.Contains(errors.Errors, e => e.Location == "Edge:Validation:p" && e.Message.Contains("checks nothing", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("application/json", "application/json", true)]
    [InlineData("application/json", "Application/JSON", true)]
    [InlineData("application/json", "application/jsonx", false)]
    [InlineData("application/*", "application/xml", true)]
    [InlineData("application/*", "text/plain", false)]
    [InlineData("application/*+json", "application/problem+json", true)]
    [InlineData("application/*+json", "application/json", false)]
    public void MediaTypeRule_Matches(string rule, string mediaType, bool expected)
    {
        Assert.True(MediaTypeRule.TryParse(rule, out var parsed));

        Assert.Equal(expected, parsed.Matches(mediaType));
    }

    private ValidationPolicy? Create(ValidationPolicyOptions options, out ConfigErrorList errors)
    {
        errors = new ConfigErrorList();
        return ValidationPolicy.TryCreate("p", options, _files.Directory, errors);
    }
}
