namespace Edge.Load.Cli;

public static class ExitCodes
{
    public const int Ok = 0;
    public const int ThresholdFailed = 1;
    public const int Usage = 2;
    public const int RunFailed = 3;
}
