namespace Edge.AuditWriter.Api;

/// <summary>RFC 9457 problem+json answers with stable codes.</summary>
internal static class Problems
{
    public static IResult Create(int status, string code, string title, string? detail = null) =>
        Results.Problem(
            statusCode: status,
            title: title,
            detail: detail,
            type: "urn:edge:problem:" + code,
            extensions: new Dictionary<string, object?> { ["code"] = code });

    public static IResult BadRequest(string code, string detail) => Create(StatusCodes.Status400BadRequest, code, "Bad audit request", detail);
}
