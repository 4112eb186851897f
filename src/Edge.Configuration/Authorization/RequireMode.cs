namespace Edge.Configuration.Authorization;

/// <summary>Whether <c>EdgeRequire</c> needs any one of its permissions or all of them.</summary>
internal enum RequireMode
{
    Any,
    All,
}
