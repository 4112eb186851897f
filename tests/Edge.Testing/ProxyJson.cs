using System.Text.Json;
using System.Text.Json.Nodes;

namespace Edge.Testing;

/// <summary>Builds proxy.json documents for tests.</summary>
public static class ProxyJson
{
    /// <summary>One cluster named <c>backend</c> pointing at <paramref name="backendUrl"/> and the given routes.</summary>
    public static string Create(string backendUrl, object routes, object? edge = null)
    {
        var document = new JsonObject
        {
            ["ReverseProxy"] = new JsonObject
            {
                ["Routes"] = JsonSerializer.SerializeToNode(routes),
                ["Clusters"] = new JsonObject
                {
                    ["backend"] = new JsonObject
                    {
                        ["Destinations"] = new JsonObject { ["d1"] = new JsonObject { ["Address"] = backendUrl } },
                    },
                },
            },
        };
        if (edge is not null)
        {
            document["Edge"] = JsonSerializer.SerializeToNode(edge);
        }

        return document.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>A route on cluster <c>backend</c> matching <paramref name="path"/> with the given transforms.</summary>
    public static object Route(string path, params object[] transforms) => new Dictionary<string, object>
    {
        ["ClusterId"] = "backend",
        ["Match"] = new { Path = path },
        ["Transforms"] = transforms,
    };
}
