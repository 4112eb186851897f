using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Edge.Proxy.Pipeline;
using StackExchange.Redis;

namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// <c>GET /edge/bans</c>, <c>POST /edge/bans</c> <c>{"key","for","reason","principal","tenant"}</c>, <c>GET /edge/bans/{key}</c> (is it banned)
/// and <c>DELETE /edge/bans/{key}</c> on the management port. Bad input answers problem+json 400 <c>ban_invalid</c>; a Redis that cannot take a shared change
/// answers 503 <c>ban_store_unavailable</c> (a ban only this instance knew would be a ban in name only); a table at its cap
/// with manual bans only answers 507 <c>ban_table_full</c>.
/// </summary>
internal static class BanEndpoints
{
    public const string InvalidCode = "ban_invalid";
    public const string NotFoundCode = "ban_not_found";
    public const string StoreUnavailableCode = "ban_store_unavailable";
    public const string OutcomeUnknownCode = "ban_outcome_unknown";
    public const string TableFullCode = "ban_table_full";
    public const string UnsupportedMediaTypeCode = "unsupported_media_type";

    /// <summary>The list's <c>source</c>: reloaded from Redis just now, or this instance's own copy.</summary>
    public const string SharedSource = "redis";
    public const string InstanceSource = "instance";

    private const int MaxKeyLength = 512;
    private const int MaxReasonLength = 512;
    private const int MaxBodyBytes = 16 * 1024;
    private static readonly TimeSpan MaxDuration = TimeSpan.FromDays(365);
    private static readonly SearchValues<char> DigitsAndDots = SearchValues.Create("0123456789.");

    public static void MapEdgeBanEndpoints(this IEndpointRouteBuilder management)
    {
        management.MapGet("/edge/bans", ListAsync);
        management.MapPost("/edge/bans", AddAsync);
        // GET beside DELETE also keeps routing from answering a GET on the proxy port with 405 (which would reveal the path).
        management.MapGet("/edge/bans/{**key}", FindAsync);
        management.MapDelete("/edge/bans/{**key}", RemoveAsync);
    }

    private static async Task ListAsync(HttpContext http, ThreatMonitor monitor, TimeProvider time)
    {
        var (bans, source, warning) = await ReadAsync(monitor);
        var now = time.GetUtcNow();
        await http.Response.WriteAsJsonAsync(new { bans = bans.Select(b => View(b, now, monitor)), source, warning });
    }

    /// <summary>
    /// The shared bans, reloaded from Redis; while Redis cannot be reached, the copy this instance enforces meanwhile,
    /// marked as such. A 503 there left the operator blind during an outage, the moment a ban's effect matters most.
    /// </summary>
    private static async Task<(IReadOnlyList<BanEntry> Bans, string Source, string? Warning)> ReadAsync(ThreatMonitor monitor)
    {
        try
        {
            return (await monitor.ListAsync(), monitor.IsShared ? SharedSource : InstanceSource, null);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or BanStoreUnavailableException)
        {
            return (monitor.ListEnforced(), InstanceSource,
                "Redis cannot be reached: these are the bans this instance enforces meanwhile; changes made on other instances since its last reload are not in it.");
        }
    }

    private static async Task AddAsync(HttpContext http, ThreatMonitor monitor, TimeProvider time)
    {
        // A browser sends a cross-site POST with text/plain (a form or fetch in no-cors mode) without asking first, and a
        // JSON object fits in such a body: any page an operator opened could ban a customer for a year. application/json
        // is not a CORS-safelisted type, so a browser must ask first, and this port answers no CORS preflight.
        if (!http.Request.HasJsonContentType())
        {
            await ProblemDetailsWriter.WriteAsync(http, StatusCodes.Status415UnsupportedMediaType, UnsupportedMediaTypeCode, "Unsupported media type",
                "A ban is a JSON object sent with Content-Type: application/json.");
            return;
        }

        // JSON is UTF-8 (RFC 8259 section 8.1) and the body is read as such whatever the charset says: a UTF-16 ban got
        // "not valid JSON". Refused by its charset, the client is told what to send.
        if (!IsUtf8OrUnlabelled(http.Request.ContentType))
        {
            await ProblemDetailsWriter.WriteAsync(http, StatusCodes.Status415UnsupportedMediaType, UnsupportedMediaTypeCode, "Unsupported media type",
                "A ban is JSON in UTF-8: send Content-Type: application/json without a charset, or with charset=utf-8.");
            return;
        }

        if (http.Request.ContentLength > MaxBodyBytes)
        {
            await InvalidAsync(http, $"the body exceeds {MaxBodyBytes} bytes");
            return;
        }

        var (request, error) = await ReadAsync(http);
        if (request is null)
        {
            await InvalidAsync(http, error!);
            return;
        }

        // Stored, such a ban would match no request: 201 Created, and the client it was meant for kept being served.
        if (!monitor.CanBlock(request.Value.Key))
        {
            var keys = string.Join(", ", monitor.RuleKeys.Prepend("{ip}").Distinct(StringComparer.Ordinal));
            await InvalidAsync(http, $"'key' {request.Value.Key} is no client address or network, and no rule of Edge:ThreatProtection:Rules renders it: a ban of it would block no one (a ban names {keys} as rendered, or a network such as 203.0.113.0/24)");
            return;
        }

        BanEntry ban;
        try
        {
            var subject = BanSubjects.ForManual(request.Value.Key, request.Value.Principal, request.Value.Tenant);
            ban = await monitor.BanAsync(request.Value.Key, request.Value.Duration, request.Value.Reason, subject);
        }
        catch (BanOutcomeUnknownException)
        {
            await OutcomeUnknownAsync(http, request.Value.Key);
            return;
        }
        catch (BanTableFullException ex)
        {
            // A manual ban never evicts another manual ban: an operator's decision is not undone by a later one.
            await ProblemDetailsWriter.WriteAsync(http, StatusCodes.Status507InsufficientStorage, TableFullCode, "Ban table full",
                $"The ban table holds {ex.MaxBans} manual bans (Edge:ThreatProtection:MaxBans); lift one, or raise the cap, before adding another.");
            return;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or BanStoreUnavailableException)
        {
            await StoreUnavailableAsync(http, ex);
            return;
        }

        http.Response.StatusCode = StatusCodes.Status201Created;
        await http.Response.WriteAsJsonAsync(View(ban, time.GetUtcNow(), monitor));
    }

    private static async Task FindAsync(HttpContext http, string? key, ThreatMonitor monitor, TimeProvider time)
    {
        // Routing leaves an encoded '/' encoded in a route value: DELETE /edge/bans/203.0.113.0%2F24 names the network.
        key = key?.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
        if ((ValidateKey(key) ?? ResolveKey(key!, out key)) is { } error)
        {
            await InvalidAsync(http, error);
            return;
        }

        var (bans, source, warning) = await ReadAsync(monitor);

        // An address inside a banned network is blocked: "is this client banned?" answers with the network's ban.
        var ban = bans.FirstOrDefault(b => string.Equals(b.Key, key, StringComparison.Ordinal))
            ?? CoveringBan(bans, key!);
        await http.Response.WriteAsJsonAsync(new { key, banned = ban is not null, ban = ban is null ? null : View(ban, time.GetUtcNow(), monitor), source, warning });
    }

    private static async Task RemoveAsync(HttpContext http, string? key, ThreatMonitor monitor)
    {
        // Routing leaves an encoded '/' encoded in a route value: DELETE /edge/bans/203.0.113.0%2F24 names the network.
        key = key?.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
        if (ValidateKey(key) is { } invalid)
        {
            await InvalidAsync(http, invalid);
            return;
        }

        // A ban stored under an ambiguous address spelling before those were refused (it never matched a client) can
        // still be lifted by that spelling; nothing else by such a key.
        var error = ResolveKey(key!, out var resolved);
        key = error is null ? resolved : AmbiguousIpv4(key!) is null ? null : key;
        if (key is null)
        {
            await InvalidAsync(http, error!);
            return;
        }

        bool removed;
        try
        {
            removed = await monitor.UnbanAsync(key);
        }
        catch (BanOutcomeUnknownException)
        {
            await OutcomeUnknownAsync(http, key);
            return;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or BanStoreUnavailableException)
        {
            await StoreUnavailableAsync(http, ex);
            return;
        }

        if (!removed && error is not null)
        {
            await InvalidAsync(http, error);
            return;
        }

        if (!removed)
        {
            // The address may still be blocked by a banned network: an operator told only "not found" takes the client for unblocked.
            var covering = await CoveringNetworkAsync(monitor, key);
            await ProblemDetailsWriter.WriteAsync(http, StatusCodes.Status404NotFound, NotFoundCode, "Ban not found", covering is null
                ? "No running ban has this key: it was never banned, was lifted already, or its ban has ended."
                : $"No running ban has this key, but the address is inside the banned network {covering} and stays blocked: lift that ban to unblock it.");
            return;
        }

        http.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static async Task<(ManualBan? Request, string? Error)> ReadAsync(HttpContext http)
    {
        JsonDocument document;
        try
        {
            // Read at most one byte past the cap: a chunked body has no Content-Length to refuse it by.
            var buffer = new byte[MaxBodyBytes + 1];
            var length = 0;
            int read;
            while (length < buffer.Length && (read = await http.Request.Body.ReadAsync(buffer.AsMemory(length), http.RequestAborted)) > 0)
            {
                length += read;
            }

            if (length > MaxBodyBytes)
            {
                return (null, $"the body exceeds {MaxBodyBytes} bytes");
            }

            document = JsonDocument.Parse(buffer.AsMemory(0, length), new JsonDocumentOptions { MaxDepth = 4 });
        }
        catch (JsonException)
        {
            return (null, "the body is not valid JSON");
        }

        using (document)
        {
            try
            {
                return Read(document.RootElement);
            }
            catch (InvalidOperationException)
            {
                // A name or string with an unpaired surrogate escape ("\ud800"), or with bytes that are no UTF-8, is valid
                // JSON syntax but no text.
                return (null, "a name or string in the body is no text: it holds bytes that are not UTF-8, or an unpaired surrogate escape");
            }
        }
    }

    private static bool IsUtf8OrUnlabelled(string? contentType) =>
        !Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var type)
        || type.Charset is not { HasValue: true } charset
        || Microsoft.Net.Http.Headers.HeaderUtilities.RemoveQuotes(charset) is var name
            && (name.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || name.Equals("utf8", StringComparison.OrdinalIgnoreCase));

    private static (ManualBan? Request, string? Error) Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return (null, "the body must be an object {\"key\",\"for\",\"reason\"}");
        }

        string? key = null, duration = null, reason = null, principal = null, tenant = null;
        var seen = 0;
        foreach (var property in root.EnumerateObject())
        {
            var bit = property.Name switch { "key" => 1, "for" => 2, "reason" => 4, "principal" => 8, "tenant" => 16, _ => 0 };
            if (bit == 0)
            {
                return (null, $"unknown property '{Safe(property.Name)}'; use key, for, reason, principal and tenant");
            }

            // JSON parsers disagree on which of two equal names wins: a ban must not depend on it.
            if ((seen & bit) != 0)
            {
                return (null, $"'{property.Name}' is given more than once");
            }

            seen |= bit;
            if (property.Value.ValueKind != JsonValueKind.String)
            {
                return (null, $"'{property.Name}' must be a string");
            }

            switch (bit)
            {
                case 1: key = property.Value.GetString(); break;
                case 2: duration = property.Value.GetString(); break;
                case 4: reason = property.Value.GetString(); break;
                case 8: principal = property.Value.GetString(); break;
                default: tenant = property.Value.GetString(); break;
            }
        }

        if ((ValidateKey(key) ?? ResolveKey(key!, out key)) is { } keyError)
        {
            return (null, keyError);
        }

        if (ParseDuration(duration, out var parsed) is { } durationError)
        {
            return (null, durationError);
        }

        if (reason is { Length: > MaxReasonLength } || (reason is not null && reason.Any(char.IsControl)))
        {
            return (null, $"'reason' must be at most {MaxReasonLength} characters without control characters");
        }

        if (ValidateName("principal", principal) is { } nameError)
        {
            return (null, nameError);
        }

        // The tenant goes into the ban's records as their tenant, and the audit writer refuses a record whose tenant is not a
        // tenant id: shipping would stop at it for good, as at any refused record.
        if (tenant is not null && !TenantId.IsValid(tenant))
        {
            return (null, $"'tenant' must be a tenant id: 1 to {TenantId.MaxLength} of A-Z a-z 0-9 . _ - and not dots only");
        }

        return (new ManualBan(key!, parsed, string.IsNullOrWhiteSpace(reason) ? "manual" : reason, principal, tenant), null);
    }

    /// <summary>
    /// A ban's <c>for</c>: hours, minutes and seconds at least (<c>00:10:00</c>, <c>1.00:00:00</c>), positive and at most
    /// 365 days; null when valid. A bare number is refused: TimeSpan reads <c>"30"</c> as 30 days, and an operator
    /// meaning seconds or minutes banned a client for a month (the 201 answer was the only hint).
    /// </summary>
    internal static string? ParseDuration(string? text, out TimeSpan duration)
    {
        duration = default;
        if (text is null || !text.Contains(':', StringComparison.Ordinal) || !TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration))
        {
            return "'for' must be a duration such as 00:10:00 (hh:mm:ss, days as 1.00:00:00)";
        }

        return duration <= TimeSpan.Zero || duration > MaxDuration ? "'for' must be positive and at most 365.00:00:00" : null;
    }

    // Whose ban it is, for its audit records only: must name someone as the edge writes them (no spaces or control characters).
    private static string? ValidateName(string name, string? value) =>
        value is null ? null
        : value.Length is 0 or > MaxKeyLength || value.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))
            ? $"'{name}' must be 1 to {MaxKeyLength} characters without spaces or control characters"
            : null;

    /// <param name="Principal">Whose ban it is, when the key names a principal: its records are sealed and erased with that principal's.</param>
    /// <param name="Tenant">The tenant of its records (so a tenant-scoped erasure reaches them).</param>
    private readonly record struct ManualBan(string Key, TimeSpan Duration, string Reason, string? Principal, string? Tenant);

    /// <summary>
    /// An IPv6 address in any notation as <c>{ip}</c> renders it (<see cref="ThreatKeyRenderer.ClientIpKey"/>):
    /// <c>2001:DB8:0::1</c> is its /64, <c>2001_db8__</c>, <c>::ffff:203.0.113.7</c> is <c>203.0.113.7</c>. A ban stored under the
    /// written form never matched a client: 201 Created, and the client kept being served. Only a key with ':' that
    /// parses as a whole is touched, so rendered keys such as <c>acme:203.0.113.7</c> and numeric keys stay as they are.
    /// </summary>
    internal static string CanonicalKey(string key) =>
        key.Contains(':', StringComparison.Ordinal) && IPAddress.TryParse(key, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6
            ? ClientAddressResolver.IpKey(ClientAddressResolver.Normalize(address)!.ToString())
            : key;

    /// <summary>
    /// The key a ban is stored under (<see cref="CanonicalKey"/>), or for a network (<c>203.0.113.0/24</c>,
    /// <c>2001:db8::/48</c>) its canonical text: host bits cleared, an IPv4 /32 as the address, an IPv6 prefix of 64 or
    /// longer as the /64 <c>{ip}</c> renders (clients are counted and banned per /64). No rule renders a '/', so a network
    /// stored as written never matched a client: 201 Created, and the whole range kept being served.
    /// </summary>
    internal static string? ResolveKey(string written, out string key)
    {
        key = written;
        var slash = written.LastIndexOf('/');
        IPAddress? address = null;
        if (slash <= 0 || written.AsSpan(slash + 1).ContainsAnyExceptInRange('0', '9')
            || !IPAddress.TryParse(written.AsSpan(0, slash), out address))
        {
            if (AmbiguousIpv4(written) is { } ambiguous)
            {
                return ambiguous;
            }

            key = CanonicalKey(written);
            return null;
        }

        if (AmbiguousIpv4(written[..slash]) is { } ambiguousNetwork)
        {
            return ambiguousNetwork;
        }

        // An address and a bare slash is a network with its prefix length left out; stored as a literal key it would
        // never match a client. (An address, '/' and other text stays literal: a template such as {ip}/{route} renders that.)
        if (slash == written.Length - 1)
        {
            var bitsOf = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            return $"'key' {written} is not a network of clients: its prefix length is missing (1 to {bitsOf})";
        }

        var prefix = int.TryParse(written.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : -1;
        if (address.IsIPv4MappedToIPv6 && prefix >= 96)
        {
            address = address.MapToIPv4();
            prefix -= 96;
        }

        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (prefix < 1 || prefix > bits)
        {
            return $"'key' {written} is not a network of clients: its prefix length is 1 to {bits}";
        }

        var bytes = address.GetAddressBytes();
        for (var bit = prefix; bit < bits; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        var network = new IPAddress(bytes);
        key = prefix == bits && bits == 32 ? network.ToString()
            : bits == 128 && prefix >= 64 ? ClientAddressResolver.IpKey(network.ToString())
            : new IPNetwork(network, prefix).ToString();
        return null;
    }

    /// <summary>
    /// An error when <paramref name="written"/> is an IPv4 address in another spelling than the one the edge keys clients
    /// by (<c>10.0.0.1</c>): leading zeros (<c>010.0.0.1</c> is 8.0.0.1 to inet_aton and to .NET, 10.0.0.1 to most
    /// readers), fewer parts (<c>10.1</c>), hex (<c>0x0a000001</c>) or a trailing dot. Stored as written, such a ban matched
    /// no client; read as some parser reads it, it could ban another network than the operator meant. So it is refused,
    /// not guessed. Text of digits and dots, or text .NET reads as an IPv4 address, is taken for an address; other keys
    /// (a numeric principal such as <c>12345</c>, <c>acme:10.0.0.1</c>) are not looked at.
    /// </summary>
    private static string? AmbiguousIpv4(string written)
    {
        var dotted = written.Contains('.', StringComparison.Ordinal) && !written.AsSpan().ContainsAnyExcept(DigitsAndDots);
        var parsed = IPAddress.TryParse(written, out var address) && address.AddressFamily == AddressFamily.InterNetwork;
        if (!(dotted || (parsed && written.AsSpan().ContainsAnyExceptInRange('0', '9'))))
        {
            return null;
        }

        return parsed && string.Equals(address!.ToString(), written, StringComparison.Ordinal) ? null
            : $"'key' {written} is not an IPv4 address as the edge writes client addresses: use four decimal numbers from 0 to 255 without leading zeros, such as 10.0.0.1 (leading zeros, fewer parts, hex and a trailing dot are read differently by different tools, so they are refused)";
    }

    private static async Task<string?> CoveringNetworkAsync(ThreatMonitor monitor, string key)
    {
        if (BanSubjects.AddressOf(key) is null)
        {
            return null;
        }

        try
        {
            return CoveringBan(await monitor.ListAsync(), key)?.Key;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or BanStoreUnavailableException)
        {
            return null;
        }
    }

    /// <summary>The ban of a network that holds the address <paramref name="key"/> names, if it names one.</summary>
    private static BanEntry? CoveringBan(IReadOnlyList<BanEntry> bans, string key)
    {
        if (BanSubjects.AddressOf(key) is not { } text)
        {
            return null;
        }

        var address = IPAddress.Parse(text);
        return bans.FirstOrDefault(b => BanEntry.TryParseNetwork(b.Key, out var network) && BanEntry.Covers(network, address));
    }

    private static string? ValidateKey(string? key) =>
        string.IsNullOrWhiteSpace(key) ? "'key' is required: the rendered key of a rule, such as 203.0.113.7 or acme:203.0.113.7"
        : key.Length > MaxKeyLength ? $"'key' must be at most {MaxKeyLength} characters"
        : key.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)) ? "'key' must not contain spaces or control characters"
        : null;

    // A property name is echoed in the error: only a short, printable form of it.
    private static string Safe(string name) => new([.. name.Take(64).Where(c => !char.IsControl(c))]);

    private static object View(BanEntry ban, DateTimeOffset now, ThreatMonitor monitor) => new
    {
        key = ban.Key,
        // What this instance's ban log lines (2300-2302) name instead of the key.
        keyId = monitor.KeyId(ban.Key),
        until = ban.Until,
        remainingSeconds = ban.RemainingSeconds(now),
        rule = ban.Rule,
        reason = ban.Reason,
    };

    private static Task InvalidAsync(HttpContext http, string detail) =>
        ProblemDetailsWriter.WriteAsync(http, StatusCodes.Status400BadRequest, InvalidCode, "Invalid ban", detail);

    private static Task OutcomeUnknownAsync(HttpContext http, string key)
    {
        http.Response.Headers.RetryAfter = "5";
        return ProblemDetailsWriter.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, OutcomeUnknownCode, "Ban change not confirmed",
            $"Redis did not answer in time: the change was sent and may still take effect on every instance (it is audited if it does). Check GET /edge/bans/{Uri.EscapeDataString(key)} before retrying.");
    }

    private static Task StoreUnavailableAsync(HttpContext http, Exception error)
    {
        http.Response.Headers.RetryAfter = "5";
        // Redis answered and refused the write (out of memory, a replica, a script error): "cannot be reached" sent an
        // operator to the network while Redis said what was wrong. Its first line names the cause, never a key.
        var detail = error is RedisServerException refused
            ? $"Redis refused the change ({FirstLine(refused.Message)}), so no instance has it; retry once Redis takes writes again."
            : "Redis cannot be reached, so the change would not reach the other instances; retry later.";
        return ProblemDetailsWriter.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, StoreUnavailableCode, "Ban store unavailable", detail);
    }

    private static string FirstLine(string message)
    {
        var line = message.AsSpan();
        var end = line.IndexOfAny('\r', '\n');
        line = end < 0 ? line : line[..end];
        return line.Length > 200 ? string.Concat(line[..200], "…") : line.ToString();
    }
}
