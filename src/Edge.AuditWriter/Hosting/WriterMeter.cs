namespace Edge.AuditWriter.Hosting;

/// <summary>The writer's one meter, shared by its ingest and retention instruments and exported at <c>GET /metrics</c>.</summary>
internal static class WriterMeter
{
    public const string Name = "Edge.AuditWriter";
}
