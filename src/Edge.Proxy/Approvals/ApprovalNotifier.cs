using System.Text.Json;
using System.Threading.Channels;
using Edge.Proxy.Observability;

namespace Edge.Proxy.Approvals;

/// <summary>
/// POSTs each new approval request to its policy's <c>Notify</c> URL, signed with Standard Webhooks, off the request
/// path: the step only enqueues. A delivery that fails is retried twice and then logged; it never affects the request.
/// </summary>
internal sealed partial class ApprovalNotifier(ApprovalMetrics metrics, TimeProvider time, ILogger<ApprovalNotifier> logger) : BackgroundService
{
    // At most one 1902 line a minute: while the receiver is slow every new approval finds the queue full.
    private readonly LogWindow _queueFullLog = new(TimeSpan.FromMinutes(1));

    public const int QueueCapacity = 1024;

    private static readonly TimeSpan[] RetryDelays = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)];

    private readonly Channel<(ApprovalPolicy Policy, ApprovalRequest Request)> _queue =
        Channel.CreateBounded<(ApprovalPolicy, ApprovalRequest)>(new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite });

    private readonly HttpClient _client = new(new Edge.Shared.OutgoingCallTagHandler("approval_notify", new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) }))
    {
        Timeout = TimeSpan.FromSeconds(10),
    };

    public void Enqueue(ApprovalPolicy policy, ApprovalRequest request)
    {
        if (policy.NotifyUrl is null)
        {
            return;
        }

        if (!_queue.Writer.TryWrite((policy, request)))
        {
            metrics.Notification(policy.Name, "dropped");
            if (_queueFullLog.TryTake(time, out var unlogged))
            {
                Log.QueueFull(logger, policy.Name, request.Id, unlogged);
            }
        }
    }

    /// <summary>The JSON body of a notification (also what a receiver verifies the signature over).</summary>
    public static byte[] Payload(ApprovalRequest request, DateTimeOffset now) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        type = "approval.requested",
        timestamp = now,
        data = new
        {
            approvalId = request.Id,
            policy = request.Policy,
            route = request.Route,
            tenant = request.Tenant,
            requester = request.Requester,
            method = request.Method,
            path = request.Path,
            query = request.Query,
            bodySha256 = request.BodySha256,
            requestHash = request.RequestHash,
            createdAt = request.CreatedAt,
            expiresAt = request.ExpiresAt,
            approvalUrl = request.Url,
        },
    });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var (policy, request) in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                await DeliverAsync(policy, request, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown: notifications still queued are not sent; the approvals themselves are in the store.
        }
    }

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }

    private async Task DeliverAsync(ApprovalPolicy policy, ApprovalRequest request, CancellationToken stoppingToken)
    {
        var messageId = "msg_" + request.Id;
        for (var attempt = 0; ; attempt++)
        {
            string failure;
            try
            {
                var now = time.GetUtcNow();
                var body = Payload(request, now);
                var timestamp = now.ToUnixTimeSeconds();
                using var message = new HttpRequestMessage(HttpMethod.Post, policy.NotifyUrl) { Content = new ByteArrayContent(body) };
                message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                message.Headers.Add("webhook-id", messageId);
                message.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
                message.Headers.Add("webhook-signature", StandardWebhooksSigner.Sign(policy.NotifyKey!, messageId, timestamp, body));
                using var response = await _client.SendAsync(message, stoppingToken);
                if (response.IsSuccessStatusCode)
                {
                    metrics.Notification(policy.Name, "delivered");
                    return;
                }

                failure = "status " + (int)response.StatusCode;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Any failure of one delivery is that delivery's: an exception leaving this loop would stop the edge.
                failure = ex.GetType().Name;
            }

            if (attempt >= RetryDelays.Length)
            {
                metrics.Notification(policy.Name, "failed");
                Log.DeliveryFailed(logger, policy.Name, request.Id, failure);
                return;
            }

            await Task.Delay(RetryDelays[attempt], time, stoppingToken);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1901, LogLevel.Warning, "Approval notification for policy {Policy}, approval {ApprovalId}, not delivered: {Failure}")]
        public static partial void DeliveryFailed(ILogger logger, string policy, string approvalId, string failure);

        [LoggerMessage(1902, LogLevel.Warning, "Approval notification for policy {Policy}, approval {ApprovalId}, dropped: the queue is full; {Unlogged} more since the previous such line (at most one a minute)")]
        public static partial void QueueFull(ILogger logger, string policy, string approvalId, long unlogged);
    }
}
