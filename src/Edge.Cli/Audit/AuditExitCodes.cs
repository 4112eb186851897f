namespace Edge.Cli.Audit;

/// <summary>
/// Exit codes of every <c>edge audit</c> command; the table in docs/audit.md (Exit codes) documents them, so a
/// script can tell a tampered log from a typo or an unreachable writer.
/// </summary>
internal static class AuditExitCodes
{
    /// <summary>Everything checked matched (or, for query/export, the request succeeded).</summary>
    public const int Verified = 0;

    /// <summary>A record, leaf hash, proof, root or checkpoint signature did not match: the log cannot be trusted.</summary>
    public const int VerificationFailed = 1;

    /// <summary>The command line or its inputs are wrong: unknown or missing option, missing file, malformed key.</summary>
    public const int UsageError = CliApp.UsageError;

    /// <summary>The writer could not be asked or refused: unreachable, non-2xx answer, no such record.</summary>
    public const int ApiError = 3;
}
