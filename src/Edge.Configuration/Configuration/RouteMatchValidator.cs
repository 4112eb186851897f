using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>
/// The parts of a route's <c>Match</c> that YARP's validator lets through but that throw when the route table is
/// built: on start the edge crashed, after a reload every route answered an empty 500. The rules are the ones the
/// code that throws applies (ASP.NET Core's host matcher and parameter policy factory, YARP's header and query
/// matchers), checked against the same services.
/// </summary>
internal sealed class RouteMatchValidator(ParameterPolicyFactory parameterPolicies, IOptions<RouteOptions> routeOptions) : IEdgeRouteValidator
{
    public void Validate(RouteConfig route, EdgeSection edge, ConfigErrorList errors)
    {
        var location = $"ReverseProxy:Routes:{route.RouteId}:Match";
        if (route.Match is null)
        {
            return;
        }

        HostPatterns.Validate(route.Match.Hosts, location + ":Hosts", errors);
        ValidatePathPolicies(route.Match.Path, location + ":Path", errors);

        for (var i = 0; i < (route.Match.Headers?.Count ?? 0); i++)
        {
            if (route.Match.Headers![i] is not { } header)
            {
                continue;
            }

            // A name or value no request can carry: the route silently never matched (or, with NotExists, always did).
            if (header.Name is { Length: > 0 } name && !HttpToken.IsToken(name))
            {
                errors.Add($"{location}:Headers[{i}]:Name", $"'{name}' is not a header name ({HttpToken.NameRule})");
            }

            if (header.Values is { } values && values.Any(string.IsNullOrEmpty))
            {
                errors.Add($"{location}:Headers[{i}]:Values", "a value is empty; list the values to match, or use Mode Exists or NotExists without Values");
            }
            else if (header.Values is { } texts && texts.Any(HttpToken.HasControlCharacter))
            {
                errors.Add($"{location}:Headers[{i}]:Values", "a value holds a control character (a line break, NUL), which no request header can carry");
            }
        }

        for (var i = 0; i < (route.Match.QueryParameters?.Count ?? 0); i++)
        {
            if (route.Match.QueryParameters![i]?.Values is { } values && values.Any(string.IsNullOrEmpty))
            {
                errors.Add($"{location}:QueryParameters[{i}]:Values", "a value is empty; list the values to match, or use Mode Exists without Values");
            }
        }
    }

    public RouteConfig ForYarp(RouteConfig route) => route;

    private bool IsKnown(string? reference)
    {
        var name = reference.AsSpan();
        var arguments = name.IndexOf('(');
        return routeOptions.Value.ConstraintMap.ContainsKey((arguments < 0 ? name : name[..arguments]).ToString());
    }

    /// <summary>
    /// An inline constraint the router does not know (<c>{id:nosuch}</c>) or a <c>regex(…)</c> that does not compile is
    /// only met when the matcher is built or first runs. A path that does not parse is YARP's own error.
    /// </summary>
    private void ValidatePathPolicies(string? path, string location, ConfigErrorList errors)
    {
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        RoutePattern pattern;
        try
        {
            pattern = RoutePatternFactory.Parse(path);
        }
        catch (RoutePatternException)
        {
            return;
        }

        foreach (var parameter in pattern.Parameters)
        {
            foreach (var reference in parameter.ParameterPolicies)
            {
                try
                {
                    // A regex constraint compiles its pattern on first use: one match against a sample value makes it.
                    if (parameterPolicies.Create(parameter, reference) is IRouteConstraint constraint)
                    {
                        constraint.Match(httpContext: null, route: null, parameter.Name, new RouteValueDictionary { [parameter.Name] = "x" }, RouteDirection.IncomingRequest);
                    }
                }
                catch (InvalidOperationException) when (!IsKnown(reference.Content))
                {
                    errors.Add(location, $"the constraint '{reference.Content}' of route parameter '{parameter.Name}' is not a route constraint; "
                        + $"use one of {string.Join(", ", routeOptions.Value.ConstraintMap.Keys.Order(StringComparer.Ordinal))}, e.g. {{id:int}} or {{slug:regex(^[a-z-]+$)}}");
                }
                catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or RouteCreationException)
                {
                    errors.Add(location, $"the constraint '{reference.Content}' of route parameter '{parameter.Name}' cannot be used: {ex.Message}");
                }
            }
        }
    }
}
