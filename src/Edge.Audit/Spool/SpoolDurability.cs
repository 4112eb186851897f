namespace Edge.Audit.Spool;

/// <summary>What an append has survived when it completes (and so when the edge may send the response).</summary>
public enum SpoolDurability
{
    /// <summary>
    /// The record is in the operating system's page cache: a crash or kill -9 of the edge loses nothing. An fsync follows
    /// within the commit interval (plus the length of an fsync already running: they run one at a time, beside the writer
    /// loop), so a power cut or kernel crash can lose at most that window of answered requests.
    /// </summary>
    ProcessCrash,

    /// <summary>The record is fsynced before the append completes: nothing answered is lost even to a power cut, at the
    /// cost of one fsync latency on every request.</summary>
    PowerLoss,
}
