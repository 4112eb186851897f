using System.Text.Json;
using Edge.Configuration.Validation;

namespace Edge.Configuration.Tests.Validation;

public sealed class JsonBodySchemaTests : IDisposable
{
    private readonly SchemaFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Evaluate_ValidOrder_True()
    {
        var errors = Evaluate("""{"amount":12,"currency":"EUR","customer":{"id":"c-1"},"items":[{"sku":"a","qty":1}]}""", out var valid);

        Assert.True(valid);
        Assert.Empty(errors);
    }

    [Fact]
    public void Evaluate_WrongType_PointerAndTypeNamed()
    {
        var errors = Evaluate("""{"amount":"twelve","currency":"EUR"}""", out var valid);

        Assert.False(valid);
        var error = Assert.Single(errors);
        Assert.Equal(new BodyError("/amount", "expected type integer"), error);
    }

    [Fact]
    public void Evaluate_MissingRequired_ParentPointerAndPropertyNamed()
    {
        var errors = Evaluate("""{"currency":"EUR"}""", out _);

        Assert.Equal([new BodyError("", "required property missing: amount")], errors);
    }

    [Fact]
    public void Evaluate_AdditionalProperty_PointsAtTheProperty()
    {
        var errors = Evaluate("""{"amount":1,"currency":"EUR","discount":99}""", out _);

        Assert.Equal([new BodyError("/discount", "property not allowed")], errors);
    }

    [Fact]
    public void Evaluate_NestedObjectsAndArrays_PointersIntoThem()
    {
        var errors = Evaluate(
            """{"amount":1,"currency":"EUR","customer":{"address":{"zip":"12345678901234"}},"items":[{"sku":"a","qty":1},{"sku":"b","qty":0},{"qty":2}]}""",
            out _);

        Assert.Contains(new BodyError("/customer", "required property missing: id"), errors);
        Assert.Contains(new BodyError("/customer/address/zip", "must be at most 10 characters long"), errors);
        Assert.Contains(new BodyError("/items/1/qty", "must be at least 1"), errors);
        Assert.Contains(new BodyError("/items/2", "required property missing: sku"), errors);
        Assert.Equal(4, errors.Count);
    }

    [Fact]
    public void Evaluate_PropertyNamesNeedingEscapes_Rfc6901Pointers()
    {
        var schema = Load("""{"type":"object","additionalProperties":false,"properties":{"ok":{"type":"integer"}}}""");
        using var body = JsonDocument.Parse("""{"a/b":1,"m~n":2,"grüße":3}""");
        var errors = new List<BodyError>();

        Assert.False(schema.Evaluate(body.RootElement, errors, 20));
        string[] expected = ["/a~1b", "/grüße", "/m~0n"];
        Assert.Equal(expected.Order(StringComparer.Ordinal), errors.Select(e => e.Pointer).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("\"EUR\\n\"", false)]
    [InlineData("\"EUR\"", true)]
    [InlineData("\"EU$\"", false)]
    public void Evaluate_PatternEndAnchor_EndOfStringOnly(string currency, bool expected)
    {
        // ECMA-262 '$' (no multiline flag) is the end of input; .NET's also matched before a final "\n".
        var errors = Evaluate($$"""{"amount":1,"currency":{{currency}}}""", out var valid);

        Assert.Equal(expected, valid);
        Assert.Equal(expected ? [] : [new BodyError("/currency", "does not match the required pattern")], errors);
    }

    [Theory]
    [InlineData("""{"pattern":"^a$"}""", "\"a\\n\"", false)]
    [InlineData("""{"pattern":"^a[$]$"}""", "\"a$\"", true)]
    [InlineData("""{"pattern":"^a\\$$"}""", "\"a$\"", true)]
    [InlineData("""{"pattern":"^a\\$$"}""", "\"a$\\n\"", false)]
    [InlineData("""{"pattern":"^[]$]x$"}""", "\"$x\"", true)]
    [InlineData("""{"patternProperties":{"^k$":{"type":"integer"}},"additionalProperties":false}""", "{\"k\\n\":1}", false)]
    [InlineData("""{"patternProperties":{"^k$":{"type":"integer"}},"additionalProperties":false}""", "{\"k\":1}", true)]
    [InlineData("""{"properties":{"patternProperties":{"$ref":"#/$defs/s"}},"$defs":{"s":{"type":"string","pattern":"x$"}}}""", "{\"patternProperties\":\"ax\"}", true)]
    [InlineData("""{"const":{"pattern":"a$"}}""", "{\"pattern\":\"a$\"}", true)]
    public void Evaluate_PatternAnchorsRewritten_OnlyWhereTheyArePatterns(string schemaText, string instance, bool expected)
    {
        var schema = Load(schemaText);
        using var body = JsonDocument.Parse(instance);

        Assert.Equal(expected, schema.Evaluate(body.RootElement, [], 20));
    }

    [Fact]
    public void Evaluate_TypeUnion_NamesEveryType()
    {
        var errors = Evaluate("""{"amount":1,"currency":"EUR","note":5}""", out _);

        Assert.Equal([new BodyError("/note", "expected type string or null")], errors);
    }

    [Fact]
    public void Evaluate_OffendingValues_NeverEchoed()
    {
        const string secretish = "SECRET-VALUE-4711";
        var errors = Evaluate($$"""{"amount":"{{secretish}}","currency":"{{secretish}}","note":"{{secretish}}{{secretish}}"}""", out _);

        Assert.Equal(3, errors.Count);
        Assert.All(errors, e => Assert.DoesNotContain("SECRET", e.Detail, StringComparison.Ordinal));
        Assert.Contains(new BodyError("/currency", "does not match the required pattern"), errors);
    }

    [Fact]
    public void Evaluate_ManyViolations_CappedAtMaxErrors()
    {
        var items = string.Join(",", Enumerable.Range(0, 50).Select(_ => """{"qty":0}"""));
        var errors = Evaluate($$"""{"amount":1,"currency":"EUR","items":[{{items}}]}""", out _, maxErrors: 20);

        Assert.Equal(20, errors.Count);
    }

    [Fact]
    public void Evaluate_LongPropertyName_PointerCutToAParentThatFits()
    {
        var name = new string('k', 1000);
        var schema = Load("""{"type":"object","additionalProperties":{"type":"object","properties":{"x":{"type":"integer"}}}}""");
        using var body = JsonDocument.Parse($$$"""{"{{{name}}}":{"x":"y"}}""");
        var errors = new List<BodyError>();

        Assert.False(schema.Evaluate(body.RootElement, errors, 20));
        Assert.All(errors, e => Assert.True(e.Pointer.Length <= JsonBodySchema.MaxPointerLength));
        Assert.Contains(errors, e => e.Pointer == "");
    }

    [Fact]
    public void Evaluate_FormatKeyword_AnnotationOnlyAsDraft202012Says()
    {
        var schema = Load("""{"properties":{"email":{"type":"string","format":"email"}}}""");
        using var body = JsonDocument.Parse("""{"email":"not an address"}""");

        Assert.True(schema.Evaluate(body.RootElement, [], 20));
    }

    [Fact]
    public async Task Evaluate_ConcurrentRequests_SameResultsAsAlone()
    {
        // One compiled schema serves every request of its routes at once.
        var schema = Load(SchemaFiles.OrderSchema);
        const string invalid = """{"amount":"x","currency":"EUR","items":[{"qty":1}]}""";
        const string valid = """{"amount":1,"currency":"EUR"}""";

        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => Task.Run(() =>
        {
            using var body = JsonDocument.Parse(i % 2 == 0 ? invalid : valid);
            var errors = new List<BodyError>();
            var ok = schema.Evaluate(body.RootElement, errors, 20);
            return (Even: i % 2 == 0, Ok: ok, Errors: string.Join("|", errors));
        })));

        Assert.All(results.Where(r => !r.Even), r => Assert.True(r.Ok));
        var expected = "BodyError { Pointer = /amount, Detail = expected type integer }|BodyError { Pointer = /items/0, Detail = required property missing: sku }";
        Assert.All(results.Where(r => r.Even), r => Assert.Equal(expected, r.Errors));
    }

    private List<BodyError> Evaluate(string json, out bool valid, int maxErrors = 20)
    {
        var schema = Load(SchemaFiles.OrderSchema);
        using var body = JsonDocument.Parse(json);
        var errors = new List<BodyError>();
        valid = schema.Evaluate(body.RootElement, errors, maxErrors);
        return errors;
    }

    private JsonBodySchema Load(string text)
    {
        _files.Write("schema.json", text);
        var errors = new ConfigErrorList();
        var schema = JsonBodySchema.TryLoad("file:schema.json", _files.Directory, "here", errors);
        Assert.Empty(errors.Items);
        return schema!;
    }
}
