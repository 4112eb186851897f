namespace Edge.Proxy.Authorization;

/// <summary>
/// Logs every JWKS or discovery fetch that failed. Attempts are already spaced (a second apart while no keys were ever
/// fetched, then <c>KeyRefreshMinimumInterval</c>), so one line per failure is bounded; the error's message only, as
/// its stack says nothing about the identity provider's answer.
/// </summary>
internal sealed partial class SigningKeyFetchLog(ILogger<SigningKeyFetchLog> logger)
{
    public void Failed(string address, Exception error) => Log.FetchFailed(logger, address, error.GetType().Name, error.Message);

    private static partial class Log
    {
        [LoggerMessage(1200, LogLevel.Warning, "Signing keys at {Address} could not be fetched ({ErrorType}: {Error}); the last good keys keep serving, and until any are fetched tokens are answered 503 authentication_unavailable")]
        public static partial void FetchFailed(ILogger logger, string address, string errorType, string error);
    }
}
