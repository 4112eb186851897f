namespace Edge.Configuration;

/// <summary>Collects errors and warnings while a candidate proxy.json is validated.</summary>
public sealed class ConfigErrorList
{
    private readonly List<ConfigError> _items = [];

    public IReadOnlyList<ConfigError> Items => _items;

    public bool HasErrors => _items.Exists(e => !e.IsWarning);

    public IEnumerable<ConfigError> Errors => _items.Where(e => !e.IsWarning);

    public IEnumerable<ConfigError> Warnings => _items.Where(e => e.IsWarning);

    public void Add(string location, string message) => _items.Add(new ConfigError(location, message));

    public void AddWarning(string location, string message) => _items.Add(new ConfigError(location, message, IsWarning: true));
}
