using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Edge.Audit.Records;

/// <summary>
/// Validates a leaf and reads its summary and layout in one forward pass of a <see cref="Utf8JsonReader"/>. Building a
/// <see cref="JsonDocument"/> with its duplicate-member check, then looking members up in it, cost about three times
/// as much per leaf (profile.md, session 23), and the writer does it for every record it ingests.
/// </summary>
/// <remarks>
/// It refuses what the document parse refused (malformed JSON, a repeated member name in any object, however it is
/// escaped) and, unlike it, text that is not UTF-8 or holds an unpaired surrogate escape: such a string cannot be
/// read back as text (<see cref="Utf8JsonReader.GetString"/> throws), so a committed one would fail every later
/// reader of the record, the export among them. RFC 8259, section 8.1 asks for UTF-8; RFC 7493 (I-JSON) forbids
/// unpaired surrogates.
/// </remarks>
internal static class LeafReader
{
    public const string NotJson = "A record is not valid JSON.";
    public const string NotText = "A record's strings must be valid UTF-8, without unpaired surrogate escapes.";

    [ThreadStatic]
    private static MemberNames? t_names;

    private enum Member
    {
        None,
        SpecVersion,
        Id,
        Time,
        Source,
        Type,
        Tenant,
        DataSchema,
        Data,
        Route,
        Decision,
        Reason,
        Subject,
        Protection,
        Principal,
        ClientIp,
        SubjectDetail,
    }

    public static LeafSummary? TryRead(byte[] leaf, out LeafLayout? layout, out string? error)
    {
        layout = null;
        var names = t_names ??= new MemberNames();
        try
        {
            var fields = new Fields();
            if (!Scan(leaf, names, ref fields, out error))
            {
                return null;
            }

            return Summarise(ref fields, out layout, out error);
        }
        finally
        {
            names.Reset();
        }
    }

    /// <summary>The layout alone, for a leaf that is not ingested (the writer's own records); null when it is not a JSON object.</summary>
    public static LeafLayout? LayoutOf(byte[] leaf)
    {
        var names = t_names ??= new MemberNames();
        try
        {
            var fields = new Fields();
            return Scan(leaf, names, ref fields, out _) && fields.RootIsObject ? LayoutFrom(in fields) : null;
        }
        finally
        {
            names.Reset();
        }
    }

    /// <summary>Reads the whole leaf; false with an error when it is not JSON text a reader can take back.</summary>
    private static bool Scan(byte[] leaf, MemberNames names, ref Fields fields, out string? error)
    {
        var reader = new Utf8JsonReader(leaf, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        var badText = false;
        var pending = Member.None;
        var inData = false;
        var inSubject = false;
        var rangeOf = Member.None;
        var rangeDepth = -1;
        var rangeStart = -1;
        try
        {
            while (reader.Read())
            {
                var depth = reader.CurrentDepth;
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        if (!names.TryAdd(ref reader, ref badText))
                        {
                            error = NotJson;
                            return false;
                        }

                        if (badText)
                        {
                            // The leaf is refused; the rest of the pass only checks that it is JSON.
                            pending = Member.None;
                            continue;
                        }

                        pending = depth switch
                        {
                            1 when fields.RootIsObject => RootMember(ref reader),
                            2 when inData => DataMember(ref reader),
                            3 when inSubject => SubjectMember(ref reader),
                            _ => Member.None,
                        };
                        if (depth == 2 && inData)
                        {
                            fields.DataMembers++;
                        }

                        if (pending == Member.SubjectDetail)
                        {
                            fields.DetailName = reader.GetString();
                        }

                        continue;

                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        fields.NoteNotString(pending, reader.TokenType);
                        if (reader.TokenType == JsonTokenType.StartObject)
                        {
                            names.Push();
                            if (depth == 0)
                            {
                                fields.RootIsObject = true;
                            }
                            else if (pending == Member.Data)
                            {
                                inData = true;
                            }
                            else if (pending == Member.Subject)
                            {
                                inSubject = true;
                                fields.SubjectIsObject = true;
                            }
                        }

                        if (pending is Member.DataSchema or Member.Subject)
                        {
                            rangeOf = pending;
                            rangeDepth = depth;
                            rangeStart = (int)reader.TokenStartIndex;
                        }

                        break;

                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        var end = (int)reader.TokenStartIndex;
                        if (reader.TokenType == JsonTokenType.EndObject)
                        {
                            names.Pop();
                            if (depth == 0 && fields.RootIsObject)
                            {
                                fields.RootEnd = end;
                            }
                            else if (depth == 1 && inData)
                            {
                                inData = false;
                                fields.DataEnd = end;
                            }
                            else if (depth == 2 && inSubject)
                            {
                                inSubject = false;
                            }
                        }

                        if (depth == rangeDepth && rangeOf != Member.None)
                        {
                            fields.SetRange(rangeOf, rangeStart, end - rangeStart + 1);
                            rangeOf = Member.None;
                            rangeDepth = -1;
                        }

                        break;

                    case JsonTokenType.String:
                        fields.NoteNotString(pending, reader.TokenType);
                        if (!IsText(ref reader, names))
                        {
                            badText = true;
                        }
                        else if (pending != Member.None)
                        {
                            fields.SetString(pending, ref reader);
                        }

                        if (pending is Member.DataSchema or Member.Subject)
                        {
                            fields.SetRange(pending, (int)reader.TokenStartIndex, reader.ValueSpan.Length + 2);
                        }

                        break;

                    default:
                        fields.NoteNotString(pending, reader.TokenType);
                        if (pending is Member.DataSchema or Member.Subject)
                        {
                            fields.SetRange(pending, (int)reader.TokenStartIndex, reader.ValueSpan.Length);
                        }

                        break;
                }

                pending = Member.None;
            }
        }
        catch (JsonException)
        {
            error = NotJson;
            return false;
        }
        catch (InvalidOperationException)
        {
            // Text the checks above let through but the reader cannot decode; never seen, refused all the same.
            error = NotText;
            return false;
        }

        error = badText ? NotText : null;
        return !badText;
    }

    private static LeafSummary? Summarise(ref Fields fields, out LeafLayout? layout, out string? error)
    {
        layout = null;
        if (!fields.RootIsObject)
        {
            error = "A record is a JSON object.";
            return null;
        }

        if (!fields.SpecVersionIsCurrent)
        {
            error = "specversion must be 1.0.";
            return null;
        }

        if (string.IsNullOrEmpty(fields.Id) || fields.Id.Length > LeafSummary.MaxIdLength)
        {
            error = "id is required (at most 128 characters).";
            return null;
        }

        // Strictly: DateTimeOffset.TryParse read "03/12/2026" as March 12, "10:00" as today and a time without an offset
        // as UTC, so the indexed time (the read API's from/to window, retention, erasure) could differ from what a
        // reader of the leaf takes it to say.
        if (!Rfc3339.TryParseDateTime(fields.Time, out var time))
        {
            error = "time must be an RFC 3339 date-time with an offset (2026-12-03T10:00:00Z).";
            return null;
        }

        if (!fields.HasSource || string.IsNullOrEmpty(fields.Type))
        {
            error = "source and type are required.";
            return null;
        }

        if (AuditEventTypes.IsWriterOnly(fields.Type) || AuditDecisions.IsWriterOnly(fields.Decision))
        {
            error = "this record type (or decision erased or pruned) is written by the audit writer itself.";
            return null;
        }

        // Edges send plaintext subjects; the writer encrypts them. A protected subject it cannot decrypt would make the
        // record unsearchable and unerasable, so it is refused.
        if (fields.SubjectIsObject && fields.Protection is not (null or "none"))
        {
            error = "data.subject.protection must be none: the writer protects personal fields itself.";
            return null;
        }

        // A tenant the leaf holds but the index cannot (a number, an array) would read differently to each; the writer checks
        // the string is a tenant id.
        if (fields.TenantNotString)
        {
            error = "tenant must be a string, a tenant id.";
            return null;
        }

        // The writer seals the subject's string members and commits nothing else of it: any other value (a number, an
        // object, null), a subject that is not an object, or members without a principal or client IP to key them were
        // dropped from the committed leaf while the sender was told its record was stored.
        if (fields.SubjectNotSealable)
        {
            error = "data.subject must be an object whose members are strings: the writer seals them and would drop anything else.";
            return null;
        }

        if (fields.SubjectIsObject && fields.Details is not null && fields.Principal is null && fields.ClientIp is null)
        {
            error = "data.subject has members besides protection but no principal or clientIp to seal them under.";
            return null;
        }

        error = null;
        var principal = fields.SubjectIsObject ? fields.Principal : null;
        var summary = new LeafSummary(fields.Id, time, fields.Tenant, principal, fields.Route, fields.Decision, fields.Reason);
        layout = LayoutFrom(in fields);
        return summary;
    }

    private static LeafLayout LayoutFrom(ref readonly Fields fields) => new(
        fields.SchemaStart, fields.SchemaLength, fields.RootEnd, fields.DataEnd, fields.DataEnd >= 0 && fields.DataMembers == 0,
        fields.SubjectStart, fields.SubjectLength, fields.ClientIp, fields.Details);

    private static Member RootMember(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("specversion"u8) ? Member.SpecVersion
        : reader.ValueTextEquals("id"u8) ? Member.Id
        : reader.ValueTextEquals("source"u8) ? Member.Source
        : reader.ValueTextEquals("type"u8) ? Member.Type
        : reader.ValueTextEquals("time"u8) ? Member.Time
        : reader.ValueTextEquals("dataschema"u8) ? Member.DataSchema
        : reader.ValueTextEquals("data"u8) ? Member.Data
        : reader.ValueTextEquals("tenant"u8) ? Member.Tenant
        : Member.None;

    private static Member DataMember(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("route"u8) ? Member.Route
        : reader.ValueTextEquals("decision"u8) ? Member.Decision
        : reader.ValueTextEquals("reason"u8) ? Member.Reason
        : reader.ValueTextEquals("subject"u8) ? Member.Subject
        : Member.None;

    private static Member SubjectMember(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("protection"u8) ? Member.Protection
        : reader.ValueTextEquals("principal"u8) ? Member.Principal
        : reader.ValueTextEquals("clientIp"u8) ? Member.ClientIp
        : Member.SubjectDetail;

    /// <summary>True when the current string token reads back as text.</summary>
    private static bool IsText(ref Utf8JsonReader reader, MemberNames names) =>
        reader.ValueIsEscaped ? names.Unescape(ref reader) is >= 0 and var length && Utf8.IsValid(names.Unescaped(length)) : Utf8.IsValid(reader.ValueSpan);

    /// <summary>What the pass found; offsets are byte indexes into the leaf, -1 when absent.</summary>
    private struct Fields()
    {
        public bool RootIsObject;
        public int RootEnd = -1;
        public bool SpecVersionIsCurrent;
        public string? Id;
        public string? Time;
        public bool HasSource;
        public string? Type;
        public string? Tenant;
        public int SchemaStart = -1;
        public int SchemaLength = -1;
        public int DataEnd = -1;
        public int DataMembers;
        public string? Route;
        public string? Decision;
        public string? Reason;
        public int SubjectStart = -1;
        public int SubjectLength = -1;
        public bool SubjectIsObject;
        public string? Protection;
        public string? Principal;
        public string? ClientIp;
        public string? DetailName;
        public List<KeyValuePair<string, string>>? Details;
        public bool TenantNotString;
        public bool SubjectNotSealable;

        /// <summary>Notes a <c>tenant</c> or <c>data.subject</c> member whose value is not a string, or a subject that is not an object.</summary>
        public void NoteNotString(Member member, JsonTokenType token)
        {
            switch (member)
            {
                case Member.Tenant when token != JsonTokenType.String:
                    TenantNotString = true;
                    break;
                case Member.Subject when token != JsonTokenType.StartObject:
                case Member.Protection or Member.Principal or Member.ClientIp or Member.SubjectDetail when token != JsonTokenType.String:
                    SubjectNotSealable = true;
                    break;
            }
        }

        public void SetRange(Member member, int start, int length)
        {
            if (member == Member.DataSchema)
            {
                SchemaStart = start;
                SchemaLength = length;
            }
            else
            {
                SubjectStart = start;
                SubjectLength = length;
            }
        }

        public void SetString(Member member, ref Utf8JsonReader reader)
        {
            switch (member)
            {
                case Member.SpecVersion:
                    SpecVersionIsCurrent = reader.ValueTextEquals("1.0"u8);
                    break;
                case Member.Id:
                    Id = reader.GetString();
                    break;
                case Member.Time:
                    Time = reader.GetString();
                    break;
                case Member.Source:
                    // An escape always stands for at least one character, so raw and unescaped emptiness agree.
                    HasSource = !reader.ValueSpan.IsEmpty;
                    break;
                case Member.Type:
                    Type = reader.GetString();
                    break;
                case Member.Tenant:
                    Tenant = reader.GetString();
                    break;
                case Member.Route:
                    Route = reader.GetString();
                    break;
                case Member.Decision:
                    Decision = reader.GetString();
                    break;
                case Member.Reason:
                    Reason = reader.GetString();
                    break;
                case Member.Protection:
                    Protection = reader.GetString();
                    break;
                case Member.Principal:
                    Principal = reader.GetString();
                    break;
                case Member.ClientIp:
                    ClientIp = reader.GetString();
                    break;
                case Member.SubjectDetail when DetailName is not null:
                    (Details ??= []).Add(new(DetailName, reader.GetString()!));
                    break;
            }
        }
    }

    /// <summary>
    /// The member names of each open object, unescaped, to refuse a repeated one. Records have objects of a few members,
    /// compared in a list; an object past <see cref="LinearLimit"/> members moves to a set, so a hostile leaf of many
    /// members costs linear time, not quadratic.
    /// </summary>
    private sealed class MemberNames
    {
        private const int LinearLimit = 16;
        private const int KeptBytes = 64 * 1024;

        private byte[] _bytes = new byte[1024];
        private int _bytesUsed;
        private (int Start, int Length)[] _names = new (int, int)[64];
        private int _nameCount;
        private Frame[] _frames = new Frame[8];
        private int _frameCount;

        public void Push()
        {
            if (_frameCount == _frames.Length)
            {
                Array.Resize(ref _frames, _frames.Length * 2);
            }

            _frames[_frameCount++] = new Frame(_nameCount, _bytesUsed);
        }

        public void Pop()
        {
            var frame = _frames[--_frameCount];
            _nameCount = frame.FirstName;
            _bytesUsed = frame.BytesMark;
            _frames[_frameCount] = default;
        }

        /// <summary>Adds the current property name to the innermost object; false when that object already has it.</summary>
        public bool TryAdd(ref Utf8JsonReader reader, ref bool badText)
        {
            ReadOnlySpan<byte> name;
            if (reader.ValueIsEscaped)
            {
                var length = Unescape(ref reader);
                if (length < 0)
                {
                    badText = true;
                    return true;
                }

                name = Unescaped(length);
            }
            else
            {
                name = reader.ValueSpan;
            }

            if (!Utf8.IsValid(name))
            {
                badText = true;
                return true;
            }

            ref var frame = ref _frames[_frameCount - 1];
            if (frame.Large is { } large)
            {
                return large.Add(Encoding.UTF8.GetString(name));
            }

            // A name whose bit is not yet set in the object's mask cannot repeat one of its names, so most names are
            // compared with none.
            var bit = 1UL << ((name.Length * 31 + (name.IsEmpty ? 0 : name[0] + name[^1] * 7)) & 63);
            if ((frame.Seen & bit) != 0)
            {
                for (var i = frame.FirstName; i < _nameCount; i++)
                {
                    var (start, length) = _names[i];
                    if (_bytes.AsSpan(start, length).SequenceEqual(name))
                    {
                        return false;
                    }
                }
            }

            frame.Seen |= bit;
            if (_nameCount - frame.FirstName == LinearLimit)
            {
                large = new HashSet<string>(StringComparer.Ordinal);
                for (var i = frame.FirstName; i < _nameCount; i++)
                {
                    var (start, length) = _names[i];
                    large.Add(Encoding.UTF8.GetString(_bytes, start, length));
                }

                large.Add(Encoding.UTF8.GetString(name));
                frame.Large = large;
                _nameCount = frame.FirstName;
                _bytesUsed = frame.BytesMark;
                return true;
            }

            // name may already sit at _bytesUsed (Unescape wrote it there); copying it onto itself is harmless.
            EnsureBytes(name.Length);
            name.CopyTo(_bytes.AsSpan(_bytesUsed));
            if (_nameCount == _names.Length)
            {
                Array.Resize(ref _names, _names.Length * 2);
            }

            _names[_nameCount++] = (_bytesUsed, name.Length);
            _bytesUsed += name.Length;
            return true;
        }

        /// <summary>
        /// Unescapes the current token into the free end of the buffer (not kept; read it with <see cref="Unescaped"/>).
        /// Returns its length, or -1 when it cannot be unescaped.
        /// </summary>
        public int Unescape(ref Utf8JsonReader reader)
        {
            EnsureBytes(reader.ValueSpan.Length);
            try
            {
                return reader.CopyString(_bytes.AsSpan(_bytesUsed));
            }
            catch (InvalidOperationException)
            {
                // An unpaired surrogate escape such as \ud800.
                return -1;
            }
        }

        public ReadOnlySpan<byte> Unescaped(int length) => _bytes.AsSpan(_bytesUsed, length);

        public void Reset()
        {
            Array.Clear(_frames, 0, _frameCount);
            _frameCount = 0;
            _nameCount = 0;
            _bytesUsed = 0;
            if (_bytes.Length > KeptBytes)
            {
                _bytes = new byte[1024];
            }

            if (_names.Length > KeptBytes / 16)
            {
                _names = new (int, int)[64];
            }
        }

        private void EnsureBytes(int more)
        {
            if (_bytes.Length - _bytesUsed < more)
            {
                Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _bytesUsed + more));
            }
        }

        private struct Frame(int firstName, int bytesMark)
        {
            public readonly int FirstName = firstName;
            public readonly int BytesMark = bytesMark;
            public ulong Seen;
            public HashSet<string>? Large;
        }
    }
}
