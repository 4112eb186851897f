using System.Buffers;
using System.Text.Json;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Writes RFC 9457 problem+json bodies. The <c>type</c> URI and <c>code</c> are stable; nothing internal is included.
/// </summary>
internal static class ProblemDetailsWriter
{
    public const string ContentType = "application/problem+json";
    public const string TypePrefix = "urn:edge:problem:";

    public static async Task WriteAsync(
        HttpContext context,
        int status,
        string code,
        string title,
        string? detail = null,
        IReadOnlyList<EdgeProblemError>? errors = null,
        IReadOnlyList<KeyValuePair<string, string>>? extensions = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = ContentType;
        context.Response.Headers.CacheControl = "no-store";

        var buffer = new ArrayBufferWriter<byte>(256);
        Write(buffer, status, code, title, detail, context.Request.Path.Value, context.GetEdgeRequest()?.RequestId ?? context.TraceIdentifier, errors, extensions);
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>The problem+json body alone, for an answer written without an <see cref="HttpContext"/> (<see cref="ParserRejections"/>).</summary>
    public static void Write(
        IBufferWriter<byte> buffer,
        int status,
        string code,
        string title,
        string? detail,
        string? instance,
        string requestId,
        IReadOnlyList<EdgeProblemError>? errors = null,
        IReadOnlyList<KeyValuePair<string, string>>? extensions = null)
    {
        using var json = new Utf8JsonWriter(buffer);
        json.WriteStartObject();
        json.WriteString("type", TypePrefix + code);
        json.WriteString("title", title);
        json.WriteNumber("status", status);
        if (detail is not null)
        {
            json.WriteString("detail", detail);
        }

        json.WriteString("code", code);
        if (instance is not null)
        {
            json.WriteString("instance", instance);
        }

        json.WriteString("requestId", requestId);
        if (extensions is not null)
        {
            foreach (var (name, value) in extensions)
            {
                json.WriteString(name, value);
            }
        }

        if (errors is not null)
        {
            WriteErrors(json, errors);
        }

        json.WriteEndObject();
    }

    public static async Task WriteAsync(HttpContext context, EdgeDenial denial)
    {
        if (denial.Headers is not null)
        {
            foreach (var (name, value) in denial.Headers)
            {
                context.Response.Headers[name] = value;
            }
        }

        if (denial.WriteBody is not null)
        {
            context.Response.StatusCode = denial.Status;
            await denial.WriteBody(context);
            return;
        }

        await WriteAsync(context, denial.Status, denial.Code, denial.Title, denial.Detail, denial.Errors, denial.Extensions);
    }

    private static void WriteErrors(Utf8JsonWriter json, IReadOnlyList<EdgeProblemError> errors)
    {
        json.WriteStartArray("errors");
        foreach (var error in errors)
        {
            json.WriteStartObject();
            if (error.Pointer is not null)
            {
                json.WriteString("pointer", error.Pointer);
            }

            if (error.Parameter is not null)
            {
                json.WriteString("parameter", error.Parameter);
            }

            json.WriteString("detail", error.Detail);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }
}
