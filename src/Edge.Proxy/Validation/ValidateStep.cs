using System.Buffers;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text.Unicode;
using Edge.Proxy.Pipeline;
using Microsoft.Extensions.Primitives;

namespace Edge.Proxy.Validation;

/// <summary>
/// Refuses input a route's backend should never see: query parameters against their rules, then the body's media type,
/// nesting depth and JSON Schema. The body is the one buffered by <see cref="EdgeBodyBufferingTransform"/> (which also
/// enforces the policy's <c>MaxBodyBytes</c>); it is parsed at most once and forwarded unchanged.
/// </summary>
internal sealed partial class ValidateStep(ValidationPolicy policy, string routeId, TimeProvider time, ILogger logger) : IEdgeStep
{
    /// <summary>The most errors one answer lists; a body can break a rule in every array item.</summary>
    public const int MaxErrors = 20;

    /// <summary>Longer client-sent parameter names are cut in the answer.</summary>
    public const int MaxEchoedParameterLength = 64;

    private readonly JsonDocumentOptions _jsonOptions = new()
    {
        MaxDepth = policy.MaxJsonDepth,
        // A repeated name is read differently by different parsers (first or last wins): what the schema checked would
        // not be what the backend reads.
        AllowDuplicateProperties = false,
    };

    public ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context)
    {
        var http = context.HttpContext;
        if (policy.Query is { } query && CheckQuery(http.Request.Query, http.Request.QueryString.Value, query) is { } queryDenial)
        {
            return ValueTask.FromResult(queryDenial);
        }

        return ValueTask.FromResult(policy.ChecksBody ? CheckBody(http) : EdgeStepResult.Continue);
    }

    private EdgeStepResult CheckBody(HttpContext http)
    {
        if (http.GetBody() is not { } body)
        {
            // The buffering middleware runs for every route with a body-checking policy; reaching here means the pipeline is miswired.
            Log.Refused(logger, routeId, policy.Name, "edge_pipeline_error:body_not_buffered");
            return EdgeStepResult.Deny(new EdgeDenial(StatusCodes.Status500InternalServerError, "edge_pipeline_error", "Edge pipeline error")
            {
                Reason = "edge_pipeline_error:body_not_buffered",
            });
        }

        if (body.Body.IsEmpty)
        {
            // No body, no media type to check. A method that carries its payload in the body must carry one when the
            // route expects JSON: an empty POST must not slip past the schema.
            return policy.Schema is not null && (HttpMethods.IsPost(http.Request.Method) || HttpMethods.IsPut(http.Request.Method) || HttpMethods.IsPatch(http.Request.Method))
                ? BodyInvalid("missing", "a JSON body is required")
                : EdgeStepResult.Continue;
        }

        if (policy.ContentTypes.Count > 0 && HasContentCoding(http.Request.Headers.ContentEncoding))
        {
            // The checks read the bytes as sent: a compressed body would fail them as "not JSON", and inflating it here
            // would let a small upload expand far past MaxBodyBytes. RFC 9110 §15.5.16: 415 with Accept-Encoding.
            return Deny(UnsupportedMediaType(
                "A content-coded (compressed) body is not accepted here; send it uncompressed.",
                ValidationCodes.UnsupportedMediaType + ":content_encoding",
                new Dictionary<string, string> { ["Accept-Encoding"] = "identity" }));
        }

        if (policy.ContentTypes.Count > 0 && !IsAccepted(http.Request.ContentType))
        {
            var accepted = string.Join(", ", policy.ContentTypes);
            // The header that tells a client which types this resource takes for its method (W3C LDP, RFC 5789).
            return Deny(UnsupportedMediaType(
                "The body's media type is not accepted here; accepted: " + accepted + ".",
                ValidationCodes.UnsupportedMediaType,
                new Dictionary<string, string> { [HttpMethods.IsPatch(http.Request.Method) ? "Accept-Patch" : "Accept-Post"] = accepted }));
        }

        if (policy.Schema is not { } schema)
        {
            return EdgeStepResult.Continue;
        }

        if (!DeclaresUtf8OrNoCharset(http.Request.ContentType))
        {
            // The schema checks the bytes as UTF-8 (RFC 8259 §8.1: JSON is UTF-8, and application/json defines no
            // charset). A backend that honours a declared charset (utf-16, latin1, utf-7) would decode other text
            // from the same bytes than the edge validated.
            return Deny(UnsupportedMediaType(
                "A JSON body is UTF-8; send it without a charset parameter or with charset=utf-8.",
                ValidationCodes.UnsupportedMediaType + ":charset",
                headers: null));
        }

        // JSON is UTF-8 (RFC 8259 §8.1); the parser leaves string contents unchecked until they are read, so an invalid
        // sequence would otherwise surface only inside schema evaluation.
        if (!Utf8.IsValid(body.Body.Span))
        {
            return BodyInvalid("malformed_json", "the body is not valid JSON");
        }

        JsonDocument document;
        try
        {
            document = body.ParseStrict(_jsonOptions);
        }
        catch (JsonException)
        {
            return ClassifyUnparsable(body.Body.Span) switch
            {
                JsonFailure.TooDeep => BodyInvalid("too_deep", $"the body nests deeper than {policy.MaxJsonDepth} levels"),
                JsonFailure.DuplicateProperty => BodyInvalid("duplicate_property", "an object repeats a property name"),
                _ => BodyInvalid("malformed_json", "the body is not valid JSON"),
            };
        }
        catch (InvalidOperationException) when (HasUnreadableValue(body.Body.Span))
        {
            // The repeated-name check unescapes every property name; an unpaired surrogate escape in one throws here.
            return UnreadableValue();
        }

        // Checked first, so a rounded number a rule refuses gets the same answer whichever way it was rounded.
        var bracket = BracketRoundedNumbers(body.Body.Span, out var unbracketable);
        if (unbracketable || (bracket is not null && !IsValidWithNeighbours(schema, bracket)))
        {
            return UnreadableValue();
        }

        var errors = new List<BodyError>();
        try
        {
            if (schema.Evaluate(document.RootElement, errors, MaxErrors))
            {
                return EdgeStepResult.Continue;
            }
        }
        catch (Exception ex) when ((ex is FormatException or InvalidOperationException or OverflowException) && HasUnreadableValue(body.Body.Span))
        {
            // Well-formed JSON the evaluator cannot read (it reads numbers as decimal, strings as UTF-16): the client's
            // input, not the edge's failure. Checked only after a throw, so a valid body costs no extra pass.
            return UnreadableValue();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The schema passed its load-time checks, so this is the validator's own failure: refuse (never forward an
            // unchecked body) and say so in the log, without the body.
            Log.EvaluationFailed(logger, routeId, policy.Name, ex);
            return Deny(new EdgeDenial(StatusCodes.Status500InternalServerError, "edge_pipeline_error", "Edge pipeline error")
            {
                Reason = "edge_pipeline_error:schema_evaluation",
            });
        }

        return Deny(BodyInvalidDenial("schema", errors.Select(e => new EdgeProblemError(e.Detail) { Pointer = e.Pointer }).ToList()));
    }

    private EdgeStepResult? CheckQuery(IQueryCollection query, string? rawQuery, QueryRules rules)
    {
        var errors = new List<EdgeProblemError>();
        string? firstReason = null;
        var patterns = new PatternBudget(time);
        void Add(string reason, string parameter, string detail)
        {
            firstReason ??= reason;
            if (errors.Count < MaxErrors)
            {
                errors.Add(new EdgeProblemError(detail) { Parameter = parameter });
            }
        }

        foreach (var (name, rule) in rules.Parameters)
        {
            if (patterns.Spent)
            {
                break;
            }

            if (!query.TryGetValue(name, out var values))
            {
                if (rule.Required)
                {
                    Add("required", name, "required parameter missing");
                }

                continue;
            }

            if (CheckValues(values, rule, ref patterns) is { } broken)
            {
                Add(broken.Reason, name, broken.Detail);
            }
        }

        foreach (var name in query.Keys)
        {
            if (patterns.Spent)
            {
                break;
            }

            if (rules.Parameters.ContainsKey(name))
            {
                continue;
            }

            var echoed = name.Length > MaxEchoedParameterLength ? name[..MaxEchoedParameterLength] + "…" : name;
            if (!rules.AllowUnknown)
            {
                Add("unknown", echoed, "parameter not allowed");
            }
            else if (BackendAlias(name, rules) is { } aliased && CheckValues(query[name], aliased, ref patterns) is { } broken)
            {
                Add(broken.Reason, echoed, broken.Detail);
            }
        }

        // Rack 2 (Rails up to 7.0) and Python before 3.9.2 also split the query at ';': ?q=x;page=abc is page=abc to them,
        // while the edge saw one parameter q with the value x;page=abc, and page's rule never ran. Each piece after a ';'
        // is checked as the parameter those backends read (the piece before it is a prefix of the value checked above).
        if (rawQuery is not null && rawQuery.Contains(';', StringComparison.Ordinal))
        {
            foreach (var segment in rawQuery.TrimStart('?').Split('&'))
            {
                var pieces = segment.Split(';');
                for (var i = 1; i < pieces.Length && !patterns.Spent; i++)
                {
                    var equals = pieces[i].IndexOf('=', StringComparison.Ordinal);
                    var name = DecodeQueryPart(equals < 0 ? pieces[i] : pieces[i][..equals]);
                    if (name.Length == 0)
                    {
                        continue;
                    }

                    var echoed = name.Length > MaxEchoedParameterLength ? name[..MaxEchoedParameterLength] + "…" : name;
                    var rule = rules.Parameters.TryGetValue(name, out var named) ? named : BackendAlias(name, rules);
                    if (rule is not null)
                    {
                        if (CheckValues(equals < 0 ? "" : DecodeQueryPart(pieces[i][(equals + 1)..]), rule, ref patterns) is { } broken)
                        {
                            Add(broken.Reason, echoed, broken.Detail);
                        }
                    }
                    else if (!rules.AllowUnknown)
                    {
                        Add("unknown", echoed, "parameter not allowed");
                    }
                }
            }
        }

        if (firstReason is null)
        {
            return null;
        }

        return Deny(new EdgeDenial(StatusCodes.Status422UnprocessableEntity, ValidationCodes.QueryInvalid, "Query invalid",
            "The query string breaks this route's rules.")
        {
            Reason = ValidationCodes.QueryInvalid + ":" + firstReason,
            Errors = errors,
        });
    }

    /// <summary>
    /// The rule of the parameter a backend reads <paramref name="name"/> as, when that is another name: PHP turns
    /// <c>page[]</c> and <c>page[x]</c> into <c>$_GET['page']</c> and <c>user.id</c> or <c>user id</c> into
    /// <c>user_id</c>; Rails and Express read <c>page[]</c> as <c>page</c> too; PHP and other C-string readers end a name
    /// at its first NUL (<c>page%00junk</c> is <c>page</c>). Unknown names are allowed by default, so without this
    /// <c>?page[]=x</c> passed the rule for <c>page</c> by not being called <c>page</c>.
    /// </summary>
    private static QueryParameterRule? BackendAlias(string name, QueryRules rules)
    {
        if (name.AsSpan().IndexOfAny("[. \0") < 0)
        {
            return null;
        }

        var alias = AliasOf(name);
        foreach (var (ruled, rule) in rules.Parameters)
        {
            if (string.Equals(AliasOf(ruled), alias, StringComparison.OrdinalIgnoreCase))
            {
                return rule;
            }
        }

        return null;
    }

    /// <summary>A parameter name as PHP stores it: cut at its first NUL and at a '[' that has a ']' after it, leading spaces dropped, ' ' '.' and a lone '[' as '_'.</summary>
    private static string AliasOf(string name)
    {
        // PHP decodes the name and then reads it as a C string (php_url_decode, then strlen).
        var nul = name.IndexOf('\0', StringComparison.Ordinal);
        if (nul >= 0)
        {
            name = name[..nul];
        }

        var open = name.IndexOf('[', StringComparison.Ordinal);
        if (open >= 0 && name.IndexOf(']', open) > open)
        {
            name = name[..open];
        }

        return name.TrimStart(' ').Replace(' ', '_').Replace('.', '_').Replace('[', '_');
    }

    /// <summary>A query name or value decoded as ASP.NET decodes <c>Request.Query</c> ('+' is a space).</summary>
    private static string DecodeQueryPart(string part) => Uri.UnescapeDataString(part.Replace('+', ' '));

    private static int ScalarCount(string text)
    {
        var count = 0;
        foreach (var _ in text.EnumerateRunes())
        {
            count++;
        }

        return count;
    }

    private static (string Reason, string Detail)? CheckValues(StringValues values, QueryParameterRule rule, ref PatternBudget patterns)
    {
        foreach (var value in values)
        {
            var text = value ?? "";
            // Characters are Unicode scalar values, as JSON Schema's maxLength counts them: an emoji is one, not two.
            if (rule.MaxLength is { } max && text.Length > max && ScalarCount(text) > max)
            {
                return ("max_length", $"must be at most {max} characters long");
            }

            if (rule.Pattern is { } pattern)
            {
                if (!patterns.TryRun(pattern, text, out var matched))
                {
                    // A value that keeps the pattern busy this long is refused rather than waited for.
                    return ("pattern_timeout", "does not match the required pattern");
                }

                if (!matched)
                {
                    return ("pattern", "does not match the required pattern");
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The time one request's query values may keep patterns busy in all: <see cref="ValidationPolicy.PatternTimeout"/>.
    /// Each run has that timeout too, but a request may name a ruled parameter many times over (<c>slow[0]</c> ...
    /// <c>slow[199]</c> are all <c>slow</c> to PHP, each checked by its rule): 200 values at the timeout each kept the edge
    /// busy for 20 s per 7 KB request. Once the budget is spent (a run timed out, or many slow runs added up), checking stops.
    /// </summary>
    /// <remarks>A struct passed by reference, and its clock started at the first run: a request whose values meet no
    /// pattern pays neither an object nor a clock read.</remarks>
    private struct PatternBudget(TimeProvider time)
    {
        private long _started;
        private bool _running;

        public bool Spent { get; private set; }

        /// <summary>Runs <paramref name="pattern"/>; false (and spent) when the budget was used up before or during the run.</summary>
        public bool TryRun(Regex pattern, string text, out bool matched)
        {
            matched = false;
            if (!_running)
            {
                (_started, _running) = (time.GetTimestamp(), true);
            }
            else if (Spent || time.GetElapsedTime(_started) >= ValidationPolicy.PatternTimeout)
            {
                Spent = true;
                return false;
            }

            try
            {
                matched = pattern.IsMatch(text);
                return true;
            }
            catch (RegexMatchTimeoutException)
            {
                Spent = true;
                return false;
            }
        }
    }

    private static bool HasContentCoding(StringValues contentEncoding)
    {
        foreach (var value in contentEncoding)
        {
            foreach (var coding in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!coding.Equals("identity", StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private bool IsAccepted(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return false;
        }

        var span = contentType.AsSpan();
        var semicolon = span.IndexOf(';');
        var mediaType = (semicolon < 0 ? span : span[..semicolon]).Trim();
        foreach (var rule in policy.ContentTypes)
        {
            if (rule.Matches(mediaType))
            {
                return true;
            }
        }

        return false;
    }

    private static EdgeDenial UnsupportedMediaType(string detail, string reason, Dictionary<string, string>? headers) =>
        new(StatusCodes.Status415UnsupportedMediaType, ValidationCodes.UnsupportedMediaType, "Unsupported media type", detail)
        {
            Reason = reason,
            Headers = headers,
        };

    /// <summary>Every <c>charset</c> parameter of the media type, if any, names UTF-8.</summary>
    internal static bool DeclaresUtf8OrNoCharset(string? contentType)
    {
        // The common "application/json" has no parameters: nothing to split or allocate.
        if (string.IsNullOrEmpty(contentType) || !contentType.Contains(';', StringComparison.Ordinal))
        {
            return true;
        }

        foreach (var parameter in contentType.Split(';').AsSpan(1))
        {
            var equals = parameter.IndexOf('=', StringComparison.Ordinal);
            var name = (equals < 0 ? parameter : parameter[..equals]).Trim();
            if (!name.Equals("charset", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var value = equals < 0 ? "" : parameter[(equals + 1)..].Trim().Trim('"');
            if (!value.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !value.Equals("utf8", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Why a body failed the strict parse; only run on failure, so a valid body is read by one parser pass.</summary>
    private JsonFailure ClassifyUnparsable(ReadOnlySpan<byte> json)
    {
        // One level of headroom so that the reader itself does not throw at the limit: the depth is checked here.
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = policy.MaxJsonDepth + 1 });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= policy.MaxJsonDepth)
                {
                    return JsonFailure.TooDeep;
                }
            }
        }
        catch (JsonException)
        {
            return JsonFailure.Malformed;
        }

        // Well-formed and within depth, yet refused by the strict parse: only a repeated property name remains.
        return JsonFailure.DuplicateProperty;
    }

    /// <summary>
    /// Whether the body holds a number outside decimal's range (about ±7.9e28) or a string or property name with an
    /// unpaired UTF-16 surrogate escape: valid JSON syntax (RFC 8259 §8.2 leaves such strings' meaning open), but
    /// values JsonSchema.Net throws on instead of evaluating.
    /// </summary>
    internal static bool HasUnreadableValue(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 1024 });
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.Number when !reader.TryGetDecimal(out _):
                        return true;
                    case JsonTokenType.String or JsonTokenType.PropertyName when reader.ValueIsEscaped:
                        try
                        {
                            reader.GetString();
                        }
                        catch (InvalidOperationException)
                        {
                            return true;
                        }

                        break;
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }

        return false;
    }

    /// <summary>
    /// The body with each number decimal can only hold rounded (more significant digits than it keeps, about 28, or a
    /// scale past 28: <c>1e-30</c>) replaced by the decimal next to the rounded value on the far side of the exact one;
    /// null when the body has no such number. The evaluator reads numbers as decimal, so it judges the rounded value:
    /// <c>0.99999999999999999999999999999</c> passed <c>"type":"integer","minimum":1</c> as 1, while a backend reading
    /// exact decimals (Java's BigDecimal, Python's Decimal) got a fraction below the minimum. The exact value lies
    /// between the rounded one and this neighbour, so a body that passes with both (<see cref="IsValidWithNeighbours"/>)
    /// passes the rules that compare numbers; and a number no rule checks (a reading of <c>1e-30</c> in a free-form
    /// object) is no reason to refuse the body. <paramref name="unbracketable"/>: a number has no such neighbour (next
    /// to decimal's limits). Numbers beyond decimal's range are left to the evaluator, which throws on those it checks
    /// (<see cref="HasUnreadableValue"/>).
    /// </summary>
    internal static byte[]? BracketRoundedNumbers(ReadOnlySpan<byte> json, out bool unbracketable)
    {
        unbracketable = false;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 1024 });
        ArrayBufferWriter<byte>? bracket = null;
        var copied = 0;
        while (reader.Read())
        {
            if (reader.TokenType != JsonTokenType.Number)
            {
                continue;
            }

            var text = reader.ValueSpan;
            // At most 28 characters without an exponent are at most 28 digits with a scale below 28: always exact, and
            // what nearly every number in a body looks like.
            if ((text.Length <= 28 && text.IndexOfAny((byte)'e', (byte)'E') < 0) || !reader.TryGetDecimal(out var value))
            {
                continue;
            }

            var exact = Canonical(System.Text.Encoding.ASCII.GetString(text));
            var read = Canonical(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (exact == read)
            {
                continue;
            }

            if (!TryGetNeighbour(value, above: CompareExact(exact, read) > 0, out var neighbour))
            {
                unbracketable = true;
                return null;
            }

            bracket ??= new ArrayBufferWriter<byte>(json.Length + 32);
            var start = (int)reader.TokenStartIndex;
            bracket.Write(json[copied..start]);
            bracket.Write(System.Text.Encoding.ASCII.GetBytes(neighbour.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            copied = start + text.Length;
        }

        if (bracket is null)
        {
            return null;
        }

        bracket.Write(json[copied..]);
        return bracket.WrittenSpan.ToArray();
    }

    private bool IsValidWithNeighbours(JsonBodySchema schema, byte[] bracket)
    {
        try
        {
            using var document = JsonDocument.Parse(bracket, _jsonOptions);
            return schema.Evaluate(document.RootElement, [], maxErrors: 1);
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or OverflowException)
        {
            return false;
        }
    }

    /// <summary>The decimal one step from <paramref name="value"/> at the finest scale a decimal of its size has.</summary>
    private static bool TryGetNeighbour(decimal value, bool above, out decimal neighbour)
    {
        var magnitude = Math.Abs(value);
        var scale = 28;
        // 96 bits of digits: the scale falls by one for each digit left of the point past the first.
        while (scale > 0 && magnitude > decimal.MaxValue * new decimal(1, 0, 0, false, (byte)scale))
        {
            scale--;
        }

        var step = new decimal(1, 0, 0, false, (byte)scale);
        try
        {
            neighbour = above ? value + step : value - step;
            return true;
        }
        catch (OverflowException)
        {
            neighbour = 0;
            return false;
        }
    }

    /// <summary>Orders two numbers given as <see cref="Canonical"/> digits and powers of ten, exactly.</summary>
    private static int CompareExact((string Digits, long Exponent) left, (string Digits, long Exponent) right)
    {
        var leftNegative = left.Digits.StartsWith('-');
        if (leftNegative != right.Digits.StartsWith('-'))
        {
            return leftNegative ? -1 : 1;
        }

        var magnitude = CompareMagnitude(left.Digits.TrimStart('-'), left.Exponent, right.Digits.TrimStart('-'), right.Exponent);
        return leftNegative ? -magnitude : magnitude;
    }

    private static int CompareMagnitude(string left, long leftExponent, string right, long rightExponent)
    {
        if (left == "0" || right == "0")
        {
            return (left == "0" ? 0 : 1) - (right == "0" ? 0 : 1);
        }

        // Both without leading or trailing zeros: the number of digits left of the point decides, then the digits.
        var order = (left.Length + leftExponent).CompareTo(right.Length + rightExponent);
        if (order != 0)
        {
            return order;
        }

        for (var i = 0; i < Math.Max(left.Length, right.Length); i++)
        {
            var difference = (i < left.Length ? left[i] : '0') - (i < right.Length ? right[i] : '0');
            if (difference != 0)
            {
                return difference;
            }
        }

        return 0;
    }

    /// <summary>A JSON number's value as its significant digits and power of ten (<c>"120.50"</c> is <c>("1205", -1)</c>, zero <c>("0", 0)</c>).</summary>
    private static (string Digits, long Exponent) Canonical(string number)
    {
        var negative = number.StartsWith('-');
        var e = number.IndexOfAny(['e', 'E']);
        var mantissa = (e < 0 ? number : number[..e]).TrimStart('-');
        var point = mantissa.IndexOf('.', StringComparison.Ordinal);
        var fraction = point < 0 ? "" : mantissa[(point + 1)..];
        var digits = ((point < 0 ? mantissa : mantissa[..point]) + fraction).TrimStart('0');
        if (digits.Length == 0)
        {
            return ("0", 0);
        }

        // An exponent too long for a long is far past decimal's scale: no decimal equals the number.
        if (!long.TryParse(e < 0 ? "0" : number[(e + 1)..], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var exponent))
        {
            return (digits, long.MinValue);
        }

        var significant = digits.TrimEnd('0');
        return ((negative ? "-" : "") + significant, exponent - fraction.Length + (digits.Length - significant.Length));
    }

    private EdgeStepResult UnreadableValue() =>
        BodyInvalid("unreadable_value", "the body holds a number or string the validator cannot read");

    private EdgeStepResult BodyInvalid(string reason, string detail) =>
        Deny(BodyInvalidDenial(reason, [new EdgeProblemError(detail) { Pointer = "" }]));

    private static EdgeDenial BodyInvalidDenial(string reason, IReadOnlyList<EdgeProblemError> errors) =>
        new(StatusCodes.Status422UnprocessableEntity, ValidationCodes.BodyInvalid, "Body invalid", "The request body breaks this route's rules.")
        {
            Reason = ValidationCodes.BodyInvalid + ":" + reason,
            Errors = errors,
        };

    private EdgeStepResult Deny(EdgeDenial denial)
    {
        Log.Refused(logger, routeId, policy.Name, denial.Reason ?? denial.Code);
        return EdgeStepResult.Deny(denial);
    }

    private enum JsonFailure
    {
        Malformed,
        TooDeep,
        DuplicateProperty,
    }

    private static partial class Log
    {
        [LoggerMessage(2400, LogLevel.Debug, "Request on route {Route} refused by validation policy {Policy}: {Reason}")]
        public static partial void Refused(ILogger logger, string route, string policy, string reason);

        [LoggerMessage(2401, LogLevel.Error, "Schema evaluation failed on route {Route} with validation policy {Policy}; the request was refused")]
        public static partial void EvaluationFailed(ILogger logger, string route, string policy, Exception exception);
    }
}
