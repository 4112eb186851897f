using Edge.Configuration.Authorization;
using Edge.Configuration.RateLimiting;
using Edge.Configuration.ThreatProtection;
using Edge.Configuration.Validation;
using Edge.Configuration.Webhooks;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.ThreatProtection;

/// <summary>Which ban-rule event a denial is, by its deciding step and stable code; null when rules do not count it.</summary>
internal static class ThreatEvents
{
    public static ThreatEvent? Classify(string step, EdgeDenial denial) => denial.Code switch
    {
        AuthenticationCodes.TenantMismatch => ThreatEvent.TenantMismatch,
        WebhookCodes.SignatureInvalid or WebhookCodes.TimestampOutOfWindow => ThreatEvent.SignatureInvalid,
        WebhookCodes.ReplayedDelivery => ThreatEvent.ReplayDetected,
        RateLimitCodes.Limited when denial.Status == StatusCodes.Status429TooManyRequests => ThreatEvent.RateLimited,
        AuthenticationCodes.PermissionDenied or AuthenticationCodes.ClaimDenied => ThreatEvent.Forbidden,
        EdgeBodyBufferingTransform.BodyInvalidCode or EdgeBodyBufferingTransform.BodyTooLargeCode => ThreatEvent.ValidationFailed,

        // A caller that presented no credential guessed nothing; only presented-and-refused credentials count.
        not AuthenticationCodes.AuthenticationRequired when denial.Status == StatusCodes.Status401Unauthorized
            && string.Equals(step, AuthenticateStepValidator.StepName, StringComparison.Ordinal) => ThreatEvent.AuthenticationFailed,

        // Every refusal EdgeValidate answers for the client's request, by its stable codes; its 500 edge_pipeline_error
        // is the edge's own fault and counts against no one.
        ValidationCodes.QueryInvalid or ValidationCodes.UnsupportedMediaType
            when string.Equals(step, ValidateStepValidator.StepName, StringComparison.Ordinal) => ThreatEvent.ValidationFailed,
        // A request no route takes (UnroutedRequests): a scanner walking paths it hopes exist.
        UnroutedRequests.NotFoundCode when denial.Status == StatusCodes.Status404NotFound
            && string.Equals(step, EdgeRequestMiddleware.EdgeStepName, StringComparison.Ordinal) => ThreatEvent.NotFound,
        _ => null,
    };
}
