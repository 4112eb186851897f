using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>
/// Validates a whole candidate config before it may replace the running one: YARP's own route and cluster rules,
/// cross references, every edge step against the candidate Edge section, and each capability's policies.
/// </summary>
public sealed class EdgeConfigValidator(
    IConfigValidator yarpValidator,
    EdgeStepValidators steps,
    IEnumerable<IEdgeSectionValidator> sectionValidators,
    IEnumerable<IEdgeRouteValidator> routeValidators,
    ClusterPolicyNames clusterPolicyNames)
{
    /// <summary>The route metadata keys the edge reads.</summary>
    private static readonly string[] RouteMetadataKeys = ["EdgeAudit", MethodPolicy.AllowTraceMetadataKey];

    public async Task ValidateAsync(ParsedProxyJson candidate, ConfigErrorList errors)
    {
        if (candidate.Routes.Count == 0)
        {
            // Refused at start, on reload and by edge config validate alike: the verdict on a file may not depend on what
            // the edge happens to serve (before, the check said valid, a starting edge served it, and a running one
            // refused it). A route-less file is what an empty template list or the wrong mounted file looks like.
            errors.Add("ReverseProxy:Routes", "no routes: an edge without routes answers every request with 404; define at least one route (to take every route out of service, stop the edge)");
        }

        foreach (var validator in sectionValidators)
        {
            validator.Validate(candidate.Edge, errors);
        }

        var clusters = candidate.Clusters.Where(c => c.ClusterId is not null).GroupBy(c => c.ClusterId, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.First(), StringComparer.OrdinalIgnoreCase);
        foreach (var route in candidate.Routes)
        {
            var location = $"ReverseProxy:Routes:{route.RouteId}";
            if (route.ClusterId is null)
            {
                errors.Add(location + ":ClusterId", "a route must name a cluster");
            }
            else if (!clusters.ContainsKey(route.ClusterId))
            {
                errors.Add(location + ":ClusterId", $"cluster '{route.ClusterId}' is not defined in ReverseProxy:Clusters; defined: {DefinedNames.List(clusters.Keys)}");
            }

            if (route.Metadata?.TryGetValue("EdgeAudit", out var audit) == true
                && !string.Equals(audit, "Required", StringComparison.OrdinalIgnoreCase)
                && !string.Equals(audit, "Optional", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add(location + ":Metadata:EdgeAudit", $"'{audit}' is not valid; use Required or Optional");
            }

            ValidateMetadataKeys(route, location, errors);
            MethodPolicy.Validate(route, location, errors);
            YarpTransformRules.Validate(route, route.ClusterId is null ? null : clusters.GetValueOrDefault(route.ClusterId), location, errors);
            ValidateSteps(route, candidate.Edge, errors);
            foreach (var routeValidator in routeValidators)
            {
                routeValidator.Validate(route, candidate.Edge, errors);
            }

            var yarpErrors = await yarpValidator.ValidateRouteAsync(ForYarp(route));
            if (yarpErrors.Count > 0)
            {
                await AddYarpRouteErrorsAsync(route, location, yarpErrors, errors);
            }
        }

        RouteOverlap.Validate(candidate.Routes, errors);

        foreach (var cluster in candidate.Clusters)
        {
            var yarpCanValidate = ClusterSettingsRules.Validate(cluster, $"ReverseProxy:Clusters:{cluster.ClusterId}", errors);
            var policyNameRefused = clusterPolicyNames.Validate(cluster, $"ReverseProxy:Clusters:{cluster.ClusterId}", errors);
            WarnWithoutDestinations(cluster, candidate.Routes, errors);
            foreach (var (name, destination) in cluster.Destinations ?? new Dictionary<string, DestinationConfig>())
            {
                var location = $"ReverseProxy:Clusters:{cluster.ClusterId}:Destinations:{name}";
                ValidateAddress(location + ":Address", destination.Address, errors);
                ValidateAddress(location + ":Health", destination.Health, errors);
            }

            foreach (var exception in yarpCanValidate ? await yarpValidator.ValidateClusterAsync(cluster) : [])
            {
                if (policyNameRefused && exception.Message.StartsWith(ClusterPolicyNames.YarpMessagePrefix, StringComparison.Ordinal))
                {
                    continue;
                }

                errors.Add($"ReverseProxy:Clusters:{cluster.ClusterId}", exception.Message);
            }
        }
    }

    /// <summary>
    /// YARP serves a cluster without destinations, and every request of its routes answers 503: a warning, not a refusal,
    /// since emptying a cluster can be meant (taking a backend out), but said in the log, on /edge/status and by the CLI.
    /// </summary>
    private static void WarnWithoutDestinations(ClusterConfig cluster, IReadOnlyList<RouteConfig> routes, ConfigErrorList errors)
    {
        if (cluster.Destinations is { Count: > 0 })
        {
            return;
        }

        var users = routes.Where(r => string.Equals(r.ClusterId, cluster.ClusterId, StringComparison.OrdinalIgnoreCase)).Select(r => r.RouteId).ToList();
        if (users.Count > 0)
        {
            errors.AddWarning($"ReverseProxy:Clusters:{cluster.ClusterId}:Destinations",
                $"the cluster has no destinations: every request of route {string.Join(", ", users)} answers 503");
        }
    }

    /// <summary>
    /// YARP reports a transform it refuses ("Unknown transform: PathPrefx") at the route; each transform alone tells
    /// which entry it is, so the error names <c>Transforms[i]</c> like the edge's own checks do.
    /// </summary>
    private async Task AddYarpRouteErrorsAsync(RouteConfig route, string location, IList<Exception> yarpErrors, ConfigErrorList errors)
    {
        var transformOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; route.Transforms is not null && i < route.Transforms.Count; i++)
        {
            if (EdgeStepValidators.TryGetStepName(route.Transforms[i], out _))
            {
                continue;
            }

            foreach (var exception in await yarpValidator.ValidateRouteAsync(ForYarp(route with { Transforms = [route.Transforms[i]] })))
            {
                transformOf.TryAdd(exception.Message, i);
            }
        }

        foreach (var exception in yarpErrors)
        {
            errors.Add(transformOf.TryGetValue(exception.Message, out var index) ? $"{location}:Transforms[{index}]" : location, exception.Message);
        }
    }

    /// <summary>
    /// YARP accepts any non-empty destination address and fails on each request instead ("127.0.0.1:8080" without a
    /// scheme, a typo, "ftp://…"): the edit was applied and every request on the cluster answered 502. The value is not
    /// repeated in the message, since an address may carry credentials.
    /// </summary>
    private static void ValidateAddress(string location, string? address, ConfigErrorList errors)
    {
        if (string.IsNullOrEmpty(address))
        {
            return; // an empty Address is YARP's own error; Health is optional
        }

        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            errors.Add(location, "not an absolute http:// or https:// URL with a host, e.g. http://10.0.3.7:8080/");
            return;
        }

        // YARP appends each request's path and query to the address as text. After a '#' they became a fragment, which
        // HttpClient never sends: every request of the cluster reached the address's own path. After a '?' they became
        // part of the query, and the backend saw the address's path for every request.
        if (address.IndexOfAny(['?', '#']) is var start and >= 0)
        {
            errors.Add(location, address[start] == '#'
                ? "the URL has a fragment ('#'): YARP appends each request's path to the address, which then went into the fragment and was never sent; remove it"
                : "the URL has a query ('?'): YARP appends each request's path and query to the address, which then went into the query; remove it (a query for health probes goes in HealthCheck:Active:Query)");
        }

        // HttpClient sends no credentials from a URL: they were dropped without a word. A password here would also be an
        // inline secret in proxy.json. The value is not repeated in the error, as it holds them.
        if (uri.UserInfo.Length > 0)
        {
            errors.Add(location, "the URL has a user name or password ('user:password@'): HttpClient never sends them, and a secret in proxy.json must be an env: or file: reference; remove it");
        }
    }

    /// <summary>The route as YARP validates and serves it, after every capability's rewrite.</summary>
    public RouteConfig ForYarp(RouteConfig route)
    {
        foreach (var routeValidator in routeValidators)
        {
            route = routeValidator.ForYarp(route);
        }

        return route;
    }

    /// <summary>
    /// Route metadata is free-form to YARP, so a step written there (next to <c>EdgeAudit</c>, which does belong there)
    /// used to pass and protect nothing. A step name is an error; any other <c>Edge…</c> key the edge does not read is a
    /// warning, since other middleware may own keys of that shape.
    /// </summary>
    private void ValidateMetadataKeys(RouteConfig route, string location, ConfigErrorList errors)
    {
        if (route.Metadata is null)
        {
            return;
        }

        foreach (var (key, value) in route.Metadata)
        {
            if (steps.TryGet(key, out _))
            {
                errors.Add($"{location}:Metadata:{key}",
                    $"'{key}' is an edge step, not route metadata: as metadata it does nothing; list it in the route's Transforms, e.g. \"Transforms\": [ {{ \"{key}\": \"{value}\" }} ]");
            }
            else if (key.StartsWith("Edge", StringComparison.OrdinalIgnoreCase) && !RouteMetadataKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                var known = string.Join(", ", RouteMetadataKeys);
                errors.AddWarning($"{location}:Metadata:{key}", ProxyJsonReader.Closest(RouteMetadataKeys, key) is { } closest
                    ? $"'{key}' is not route metadata the edge reads; did you mean '{closest}'? (it reads {known})"
                    : $"'{key}' is not route metadata the edge reads (it reads {known}); ignored");
            }
        }
    }

    private void ValidateSteps(RouteConfig route, EdgeSection edge, ConfigErrorList errors)
    {
        if (route.Transforms is null)
        {
            return;
        }

        var preceding = new List<string>();
        for (var i = 0; i < route.Transforms.Count; i++)
        {
            var values = route.Transforms[i];
            if (!EdgeStepValidators.TryGetStepName(values, out var name))
            {
                // YARP reports such an entry only as "Unknown transform: Name;EdgeTenant" at the route, without saying why.
                if (values.Keys.Skip(1).FirstOrDefault(k => steps.TryGet(k, out _)) is { } misplaced)
                {
                    errors.Add($"ReverseProxy:Routes:{route.RouteId}:Transforms[{i}]:{misplaced}",
                        $"'{misplaced}' must be the first key of its entry, since the first key names the step; write {{ \"{misplaced}\": …, … }}");
                }

                continue;
            }

            var context = new EdgeStepValidationContext(route, i, preceding.ToArray(), edge, errors);
            if (!steps.TryGet(name, out var validator))
            {
                context.AddError(name, steps.UnknownStepMessage(name));
                continue;
            }

            validator.Validate(context, values);
            preceding.Add(validator.Name);
        }
    }
}
