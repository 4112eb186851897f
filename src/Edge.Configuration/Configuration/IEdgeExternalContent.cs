namespace Edge.Configuration;

/// <summary>
/// Implemented by a capability whose validation reads content from outside proxy.json (a schema file). Its fingerprint is
/// part of the routes' policy hash, so a route is rebuilt when that content changed even though its text did not.
/// </summary>
public interface IEdgeExternalContent
{
    /// <summary>A stable text that changes when the content read for <paramref name="edge"/> changes; empty when none was read.</summary>
    string Fingerprint(EdgeSection edge);

    /// <summary>The files read for <paramref name="edge"/>, as resolved paths: a change of one is picked up like an edit of proxy.json.</summary>
    IEnumerable<string> Files(EdgeSection edge);
}
