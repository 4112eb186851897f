namespace Edge.Configuration;

/// <summary>
/// The <c>Edge</c> section of proxy.json: named policies that route steps refer to. Each capability contributes its
/// own sub-section through an <see cref="EdgeSectionDescriptor{TOptions}"/> and reads it back with <see cref="Get{TOptions}"/>,
/// so this type knows none of them.
/// </summary>
public sealed class EdgeSection
{
    private readonly Dictionary<string, object> _values;

    internal EdgeSection()
        : this(new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase))
    {
    }

    private EdgeSection(Dictionary<string, object> values) => _values = values;

    public static EdgeSection Empty { get; } = new();

    /// <summary>The sub-section as read from proxy.json, or its default when the file does not have it.</summary>
    public TOptions Get<TOptions>(EdgeSectionDescriptor<TOptions> section)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(section);
        return _values.TryGetValue(section.Name, out var value) && value is TOptions options ? options : section.Default;
    }

    /// <summary>A copy with one sub-section replaced.</summary>
    public EdgeSection With<TOptions>(EdgeSectionDescriptor<TOptions> section, TOptions value)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(value);
        return new EdgeSection(new Dictionary<string, object>(_values, StringComparer.OrdinalIgnoreCase) { [section.Name] = value });
    }

    internal object GetValue(EdgeSectionDescriptor section) =>
        _values.TryGetValue(section.Name, out var value) ? value : section.DefaultValue;

    // Only the reader calls this, on the instance it is filling; a published EdgeSection is never changed.
    internal void Set(EdgeSectionDescriptor section, object? value)
    {
        if (value is null)
        {
            _values.Remove(section.Name);
        }
        else
        {
            _values[section.Name] = value;
        }
    }
}
