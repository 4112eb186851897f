namespace Edge.Load.Cli;

public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>A threshold failed, or a scenario (or one of its steps) that ran to its end got not one ok response.</summary>
    public const int ThresholdFailed = 1;
    public const int Usage = 2;
    public const int RunFailed = 3;

    /// <summary>Stopped by Ctrl+C: the reports cover the part that ran, which is not the run that was asked for (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;
}
