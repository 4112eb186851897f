namespace Edge.Configuration;

/// <summary>
/// The settings files (<c>appsettings.json</c>, <c>appsettings.{Environment}.json</c>) that could not be read again after
/// an edit while the host runs: the host keeps the settings it last read and logs the file and the parser's error
/// (its message names the line and byte, never a value). Errors before a host subscribed are kept for it, the latest per file.
/// </summary>
public sealed class SettingsFileErrors
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, string> _pending = new(StringComparer.Ordinal);
    private Action<string, string>? _subscriber;

    /// <summary>Calls <paramref name="onError"/> with the file's full path and the error, for each error not yet reported and every later one.</summary>
    public void Subscribe(Action<string, string> onError)
    {
        KeyValuePair<string, string>[] pending;
        lock (_lock)
        {
            _subscriber = onError;
            pending = [.. _pending];
            _pending.Clear();
        }

        foreach (var (file, error) in pending)
        {
            onError(file, error);
        }
    }

    internal void Report(string file, string error)
    {
        Action<string, string>? subscriber;
        lock (_lock)
        {
            subscriber = _subscriber;
            if (subscriber is null)
            {
                _pending[file] = error;
            }
        }

        subscriber?.Invoke(file, error);
    }
}
