using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace Edge.Configuration;

/// <summary>How the hosts (the edge, the audit writer) tell an operator's mistake at startup from a defect.</summary>
public static class HostSettings
{
    /// <summary>
    /// True when the exception is a refused setting: every check of the edge's and the writer's host settings throws an
    /// <see cref="InvalidOperationException"/> whose message starts with the setting's name (<c>Edge:…</c>,
    /// <c>Writer:…</c>, ASP.NET Core's <c>AllowedHosts</c>, or Kestrel's certificate settings, <c>Kestrel:…</c>). Anything
    /// else keeps its stack trace.
    /// </summary>
    public static bool Names(InvalidOperationException exception) =>
        exception.Message.StartsWith("Edge:", StringComparison.Ordinal) || exception.Message.StartsWith("Writer:", StringComparison.Ordinal)
        || exception.Message.StartsWith("AllowedHosts ", StringComparison.Ordinal) || exception.Message.StartsWith("urls ", StringComparison.Ordinal)
        || exception.Message.StartsWith("Kestrel:", StringComparison.Ordinal);

    /// <summary>
    /// Refuses a key directly under <paramref name="section"/> that is not one of <paramref name="known"/> (any case, as
    /// the binder reads them): a misspelt setting was ignored like any unused key, and the host started without it.
    /// </summary>
    public static void RefuseUnknownSettings(IConfigurationSection section, IReadOnlyCollection<string> known)
    {
        foreach (var child in section.GetChildren())
        {
            if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException(UnknownSetting(section, child.Key, known));
            }
        }
    }

    /// <summary>The one line for a name that is not a setting of <paramref name="section"/>, with the closest one.</summary>
    public static string UnknownSetting(IConfigurationSection section, string key, IEnumerable<string> known)
    {
        var names = known.Order(StringComparer.Ordinal).ToList();
        var closest = names.MinBy(k => ProxyJsonReader.EditDistance(k, key));
        var hint = closest is not null && ProxyJsonReader.EditDistance(closest, key) <= 2 ? $"; did you mean {section.Path}:{closest}?" : "";
        return $"{section.Path}:{key} is not a host setting{hint} (known here: {string.Join(", ", names)})";
    }

    /// <summary>
    /// Refuses a <c>--urls</c> entry Kestrel cannot listen on, before anything starts. Kestrel parses them only when it
    /// binds: <c>--urls 8080</c> (no scheme) threw a FormatException and <c>http://127.0.0.1:99999</c> an
    /// ArgumentOutOfRangeException past <see cref="RunAsync"/>, and the process aborted (134) with the runtime's stack.
    /// </summary>
    public static void RefuseUnusableUrls(IEnumerable<string> urls)
    {
        foreach (var url in urls)
        {
            BindingAddress address;
            try
            {
                address = BindingAddress.Parse(url);
            }
            catch (FormatException)
            {
                throw new InvalidOperationException($"urls entry '{url}' is not a listener URL: give scheme, host and port (e.g. http://127.0.0.1:8080).");
            }

            if (!address.IsUnixPipe && !address.IsNamedPipe && address.Port is < 0 or > 65535)
            {
                throw new InvalidOperationException($"urls entry '{url}' has port {address.Port}; a port is 1-65535 (or 0 for any free one).");
            }
        }
    }

    /// <summary>
    /// The configuration binder's refusal of an <c>Edge:</c> or <c>Writer:</c> value of the wrong type
    /// (<c>AllFrameworkMetrics=yes</c>, <c>ConfigPollInterval=500ms</c>) as one line naming the setting, or null for any
    /// other exception. The binder puts the key in its message ("Failed to convert configuration value 'yes' at
    /// 'Edge:…' to type 'System.Boolean'") and the parser's complaint in the inner exception.
    /// </summary>
    public static string? UnconvertibleSetting(InvalidOperationException exception)
    {
        const string marker = "' at '";
        var at = exception.Message.IndexOf(marker, StringComparison.Ordinal);
        if (!exception.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) || at < 0)
        {
            return null;
        }

        var keyStart = at + marker.Length;
        var keyEnd = exception.Message.IndexOf('\'', keyStart);
        var typeStart = exception.Message.LastIndexOf("type '", StringComparison.Ordinal);
        if (keyEnd < 0 || typeStart < 0)
        {
            return null;
        }

        var key = exception.Message[keyStart..keyEnd];
        if (!key.StartsWith("Edge:", StringComparison.Ordinal) && !key.StartsWith("Writer:", StringComparison.Ordinal))
        {
            return null;
        }

        var type = exception.Message[(typeStart + "type '".Length)..].TrimEnd('.', '\'');
        // An enum setting (Edge:Audit:SpoolDurability) said "is not a valid SpoolDurability": a type, not what to write.
        if (AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(type)).FirstOrDefault(static t => t is { IsEnum: true }) is { } names)
        {
            return $"error: {key}: '{ValueOf(exception.Message)}' is not one of {string.Join(", ", Enum.GetNames(names))}";
        }

        type = type[(type.LastIndexOf('.') + 1)..];
        var example = type switch
        {
            "Boolean" => " (true or false)",
            "TimeSpan" => " (hh:mm:ss, e.g. 00:00:00.500)",
            _ => "",
        };
        return $"error: {key}: '{ValueOf(exception.Message)}' is not a valid {type}{example}";

        static string ValueOf(string message)
        {
            var start = message.IndexOf('\'') + 1;
            var end = message.IndexOf(marker, StringComparison.Ordinal);
            return start > 0 && end > start ? message[start..end] : "?";
        }
    }

    /// <summary>
    /// An operator's mistake at startup as the one line to print, or null for a defect: an invalid proxy.json (its errors
    /// were logged with their locations), a refused host setting, a port another process holds, or a file another process
    /// holds (<paramref name="heldElsewhere"/>: the spool directory, the writer's store).
    /// </summary>
    public static string? OneLine(Exception exception, Func<IOException, bool> heldElsewhere) => exception switch
    {
        EdgeConfigException invalid => invalid.Message,
        InvalidDataException unreadable when SettingsFile(unreadable) is { } line => line,
        InvalidOperationException invalid when Names(invalid) => "error: " + invalid.Message,
        InvalidOperationException unconvertible when UnconvertibleSetting(unconvertible) is { } line => line,
        IOException taken when heldElsewhere(taken) || taken.InnerException is AddressInUseException => "error: " + taken.Message,
        // Kestrel's bind of an address this host does not have (a copied --urls with another machine's IP), or of a
        // port below 1024 without the privilege: the socket's own message, without the address, so name the settings.
        SocketException { SocketErrorCode: SocketError.AddressNotAvailable or SocketError.AccessDenied } refused =>
            $"error: cannot listen on an address given in --urls (or Edge:ManagementUrls): {refused.Message}; is it an address of this host, and a port this user may bind?",
        _ => null,
    };

    /// <summary>
    /// A settings file (appsettings.json) the JSON configuration provider refused, as one line naming the file: keys that
    /// differ only in case (<c>"Redis"</c> and <c>"redis"</c>: configuration keys are case-insensitive, and one would be
    /// lost) or text that is not JSON. Unhandled, it printed the runtime's stack trace and aborted (134). The provider's
    /// messages name the key or the position, never a value.
    /// </summary>
    private static string? SettingsFile(InvalidDataException exception)
    {
        const string prefix = "Failed to load configuration from file '";
        if (!exception.Message.StartsWith(prefix, StringComparison.Ordinal) || exception.InnerException is not FormatException reason)
        {
            return null;
        }

        var end = exception.Message.LastIndexOf('\'');
        var file = end > prefix.Length ? exception.Message[prefix.Length..end] : "settings file";
        var detail = reason.Message.Contains("duplicate key", StringComparison.OrdinalIgnoreCase)
            ? $"{reason.Message} Setting names are compared without case, so two names that differ only in case are one setting; keep one."
            : reason.InnerException is { } parser ? $"{reason.Message} {parser.Message}" : reason.Message;
        return $"error: {file}: {detail}";
    }

    /// <summary>
    /// True for the host's own log of a failed start ("Hosting failed to start", event 11 of
    /// <c>Microsoft.Extensions.Hosting.Internal.Host</c>, with the stack trace) when <see cref="RunAsync"/> prints that
    /// failure as one line anyway: a second edge on a taken port logged thirty lines of Kestrel's stack before it.
    /// A defect's start failure keeps that log line.
    /// </summary>
    public static bool RepeatsOneLine(string? category, int eventId, Exception? exception, Func<IOException, bool> heldElsewhere) =>
        eventId == 11 && category == "Microsoft.Extensions.Hosting.Internal.Host" && exception is not null
        && OneLine(exception, heldElsewhere) is not null;

    /// <summary>
    /// Runs a host and maps an operator's mistake (<see cref="OneLine"/>) to exit code 1 with one line on standard error.
    /// Unhandled, these printed the runtime's stack trace and aborted with SIGABRT (134). A defect still surfaces with
    /// its stack trace.
    /// </summary>
    public static async Task<int> RunAsync(Func<Task> run, Func<IOException, bool> heldElsewhere)
    {
        try
        {
            await run().ConfigureAwait(false);
            return 0;
        }
        catch (Exception mistake) when (OneLine(mistake, heldElsewhere) is { } line)
        {
            await Console.Error.WriteLineAsync(line).ConfigureAwait(false);
        }

        return 1;
    }
}
