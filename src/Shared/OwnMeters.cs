using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Edge.Shared;

/// <summary>
/// Keeps a host's metrics to the meters its own <see cref="IMeterFactory"/> created. OpenTelemetry's provider listens to
/// every meter of a name it was given, process-wide: beside another edge or writer (tests, an embedding process), a
/// scrape showed the other's instruments in the same series, and for an observable one whichever callback ran last won
/// (a spool's write failures read 0 from the edge whose spool had failed). Meters with no factory (System.Runtime,
/// System.Net.Http) are the process's own and stay. Shared by the edge and the audit writer.
/// </summary>
internal static class OwnMeters
{
    /// <summary>Adds the view that drops other hosts' instruments, then <paramref name="view"/> for the rest.</summary>
    public static MeterProviderBuilder AddOwnMetersView(this MeterProviderBuilder builder, Func<Instrument, MetricStreamConfiguration?>? view = null)
    {
        if (builder is not IDeferredMeterProviderBuilder deferred)
        {
            throw new InvalidOperationException("A host's metrics are configured through its service collection.");
        }

        // One view: a second one that matched too would add a second stream, not override the first.
        deferred.Configure((services, provider) =>
        {
            var own = services.GetRequiredService<IMeterFactory>();
            provider.AddView(instrument => IsAnotherHosts(instrument, own) ? MetricStreamConfiguration.Drop : view?.Invoke(instrument));
        });
        return builder;
    }

    private static bool IsAnotherHosts(Instrument instrument, IMeterFactory own) =>
        instrument.Meter.Scope is IMeterFactory scope && !ReferenceEquals(scope, own);
}
