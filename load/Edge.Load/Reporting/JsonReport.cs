using System.Text;
using System.Text.Json;

namespace Edge.Load.Reporting;

/// <summary>
/// report.json: the run for machines, every number at full precision (the md and html round for people), latencies in
/// milliseconds and null where nothing was measured, durations in seconds. Names are camelCase and only ever added to.
/// </summary>
internal static class JsonReport
{
    public static string Render(RunReport report)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Indented = true,

            // A file for jq and scripts, never embedded in html: "1.0.0+abc" rather than "1.0.0\u002Babc".
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            json.WriteStartObject();
            json.WriteString("title", report.Title);
            json.WriteString("startedUtc", report.StartedUtc);
            json.WriteNumber("durationSeconds", report.Duration.TotalSeconds);
            json.WriteString("target", report.Target);
            if (report.RequestTimeout is { } timeout && timeout != Timeout.InfiniteTimeSpan)
            {
                json.WriteNumber("requestTimeoutSeconds", timeout.TotalSeconds);
            }
            else
            {
                json.WriteNull("requestTimeoutSeconds");
            }

            json.WriteString("machine", report.Environment.Text);
            json.WriteBoolean("passed", report.Passed);
            json.WriteBoolean("interrupted", report.Interrupted);
            json.WriteStartArray("withoutOk");
            foreach (var reason in report.WithoutOk)
            {
                json.WriteStringValue(reason);
            }

            json.WriteEndArray();
            json.WriteStartArray("scenarios");
            foreach (var scenario in report.Scenarios)
            {
                WriteScenario(json, scenario);
            }

            json.WriteEndArray();
            json.WriteStartArray("thresholds");
            foreach (var t in report.Thresholds)
            {
                json.WriteStartObject();
                json.WriteString("scenario", t.Scenario);
                json.WriteString("step", t.Step);
                json.WriteString("check", t.Threshold.Label);
                Number(json, "actual", t.Actual);
                json.WriteString("actualText", t.ActualText);
                json.WriteNumber("sample", t.Sample);
                json.WriteBoolean("passed", t.Passed);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteScenario(Utf8JsonWriter json, ScenarioReport scenario)
    {
        json.WriteStartObject();
        json.WriteString("name", scenario.Name);
        json.WriteString("model", scenario.Scheduled is null ? "closed" : "open");
        json.WriteStartArray("simulations");
        foreach (var simulation in scenario.Simulations)
        {
            json.WriteStringValue(simulation);
        }

        json.WriteEndArray();
        json.WriteStartArray("parameters");
        foreach (var parameter in scenario.Parameters)
        {
            json.WriteStringValue(parameter);
        }

        json.WriteEndArray();
        json.WriteNumber("warmUpSeconds", scenario.WarmUp.TotalSeconds);
        json.WriteNumber("warmUpRequests", scenario.WarmUpRequests);
        json.WriteNumber("durationSeconds", scenario.Duration.TotalSeconds);
        json.WriteNumber("loadDurationSeconds", scenario.LoadDuration.TotalSeconds);
        json.WriteBoolean("cancelled", scenario.Cancelled);
        json.WriteNumber("sent", scenario.Sent);
        Number(json, "scheduled", scenario.Scheduled);
        Number(json, "offeredRps", scenario.OfferedRps);
        json.WriteBoolean("offeredRateMissed", scenario.OfferedRateMissed);
        Number(json, "maxDispatchLagMs", scenario.MaxDispatchLag?.TotalMilliseconds);
        Number(json, "lateDispatches", scenario.LateDispatches);
        json.WriteBoolean("generatorFellBehind", scenario.GeneratorFellBehind);
        json.WriteStartObject("protocol");
        json.WriteString("requested", scenario.RequestedProtocol);
        json.WriteString("negotiation", scenario.ProtocolNegotiation);
        json.WriteStartObject("responses");
        foreach (var p in scenario.Protocols)
        {
            json.WriteNumber(p.Protocol, p.Count);
        }

        json.WriteEndObject();
        json.WriteNumber("otherVersion", scenario.OtherProtocolResponses);
        json.WriteEndObject();
        json.WriteStartArray("steps");
        foreach (var step in scenario.Steps)
        {
            json.WriteStartObject();
            json.WriteString("name", step.Name);
            json.WriteNumber("requests", step.Requests);
            json.WriteNumber("failPercent", step.FailPercent);
            WriteOutcome(json, "ok", step.Ok);
            WriteOutcome(json, "fail", step.Fail);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("timeSeries");
        foreach (var point in scenario.TimeSeries)
        {
            json.WriteStartObject();
            json.WriteNumber("elapsedSeconds", point.ElapsedSeconds);
            json.WriteNumber("okCount", point.OkCount);
            json.WriteNumber("failCount", point.FailCount);
            json.WriteNumber("okRps", point.OkRps);
            json.WriteNumber("failRps", point.FailRps);
            Number(json, "p50Ms", point.P50Ms);
            Number(json, "p99Ms", point.P99Ms);
            Number(json, "maxMs", point.MaxMs);
            json.WriteNumber("inFlight", point.InFlight);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteOutcome(Utf8JsonWriter json, string name, OutcomeReport outcome)
    {
        json.WriteStartObject(name);
        json.WriteNumber("count", outcome.Count);
        json.WriteNumber("rps", outcome.Rps);
        Number(json, "minMs", outcome.MinMs);
        Number(json, "meanMs", outcome.MeanMs);
        Number(json, "maxMs", outcome.MaxMs);
        Number(json, "stdDevMs", outcome.StdDevMs);
        Number(json, "p50Ms", outcome.P50Ms);
        Number(json, "p75Ms", outcome.P75Ms);
        Number(json, "p95Ms", outcome.P95Ms);
        Number(json, "p99Ms", outcome.P99Ms);
        Number(json, "p999Ms", outcome.P999Ms);
        json.WriteNumber("bytes", outcome.Bytes);
        json.WriteStartObject("statusCodes");
        foreach (var code in outcome.StatusCodes)
        {
            json.WriteNumber(code.StatusCode, code.Count);
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void Number(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
