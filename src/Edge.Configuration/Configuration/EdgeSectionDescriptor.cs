namespace Edge.Configuration;

/// <summary>
/// One sub-section of the <c>Edge</c> object in proxy.json (e.g. <c>Edge:RateLimits</c>), contributed by the capability
/// that owns it. The reader binds <c>Edge:&lt;Name&gt;</c> to <see cref="OptionsType"/>; a name no capability registered is an error.
/// </summary>
public abstract class EdgeSectionDescriptor
{
    private protected EdgeSectionDescriptor(string name, Type optionsType)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        OptionsType = optionsType;
    }

    /// <summary>The property name under <c>Edge</c>.</summary>
    public string Name { get; }

    public Type OptionsType { get; }

    internal abstract object DefaultValue { get; }
}

/// <summary>A typed <see cref="EdgeSectionDescriptor"/>; <see cref="Default"/> is what a file without the section reads as.</summary>
public sealed class EdgeSectionDescriptor<TOptions>(string name, TOptions defaultValue) : EdgeSectionDescriptor(name, typeof(TOptions))
    where TOptions : class
{
    public TOptions Default { get; } = defaultValue ?? throw new ArgumentNullException(nameof(defaultValue));

    internal override object DefaultValue => Default;
}
