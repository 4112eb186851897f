using System.Text.Json;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// The raw request body, buffered by <see cref="EdgeBodyBufferingTransform"/> for routes whose steps read it, and
/// forwarded byte-for-byte. Its JSON is parsed at most once per request, on first use, and disposed with the request.
/// </summary>
internal sealed class EdgeBodyFeature(ReadOnlyMemory<byte> body) : IDisposable
{
    private JsonDocument? _document;
    private JsonDocument? _strictDocument;
    private bool _parsed;
    private FormText? _form;

    public ReadOnlyMemory<byte> Body { get; } = body;

    /// <summary>The non-empty string or number at <paramref name="pointer"/>; null when absent, not JSON or not a scalar.</summary>
    public string? ReadScalar(string pointer) => JsonPointer.Read(Document, pointer, scalarOnly: true);

    /// <summary>
    /// The body decoded as form text (<see cref="FormBody.Decode"/>), once per request: the method-override check and
    /// the credential check read the same body, and each decoding of a form up to the body cap costs a string of its size.
    /// </summary>
    public FormText Form(string? contentType) => _form ??= FormBody.Decode(contentType, Body.Span);

    /// <summary>A string's value, or any other JSON value's raw text; null when absent, null or not JSON.</summary>
    public string? ReadValue(string pointer) => JsonPointer.Read(Document, pointer, scalarOnly: false);

    /// <summary>
    /// Parses the body under stricter rules than the lenient reads above (a validation policy's depth, no repeated
    /// property names); throws <see cref="JsonException"/> when it breaks them. When no step has parsed the body yet, the
    /// result becomes the request's document, so later steps read the validated JSON without a second parse. Either way
    /// it is disposed with the request.
    /// </summary>
    public JsonDocument ParseStrict(JsonDocumentOptions options)
    {
        var document = JsonDocument.Parse(Body, options);
        if (!_parsed)
        {
            _parsed = true;
            _document = document;
        }
        else
        {
            _strictDocument?.Dispose();
            _strictDocument = document;
        }

        return document;
    }

    private JsonDocument? Document
    {
        get
        {
            if (!_parsed)
            {
                _parsed = true;
                _document = JsonPointer.TryParse(Body);
            }

            return _document;
        }
    }

    /// <summary>Returns the parsed document's pooled memory; the feature must not be read afterwards.</summary>
    public void Dispose()
    {
        _document?.Dispose();
        _strictDocument?.Dispose();
    }
}
