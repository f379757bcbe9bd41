using MailKit.Security;
using Microsoft.Extensions.Options;

namespace Tally.Server.Monitoring;

/// <summary>
/// Alert delivery settings, bound from <c>Tally:Alerts</c> (e.g. <c>Tally__Alerts__Smtp__Host</c> or
/// <c>--Tally:Alerts:Smtp:Host=...</c>). The SMTP relay is the operator's; tenants only choose recipients.
/// </summary>
public sealed class AlertOptions
{
    public const string Section = "Tally:Alerts";

    public SmtpSettings Smtp { get; set; } = new();

    /// <summary>Retries after the first webhook attempt fails (5xx, 408, 429, timeout or connection error).</summary>
    public int WebhookRetries { get; set; } = 4;

    /// <summary>Base delay of the exponential backoff between webhook attempts (with jitter).</summary>
    public TimeSpan WebhookRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Timeout of one webhook attempt.</summary>
    public TimeSpan WebhookAttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Lets webhooks reach loopback, private, link-local and other non-public addresses. Off by default: tenant admins
    /// choose webhook URLs, and an operator who runs receivers on the internal network turns this on knowingly
    /// (on-premises installations), accepting that every tenant admin can then reach that network.
    /// </summary>
    public bool AllowPrivateWebhookTargets { get; set; }

    /// <summary>
    /// Alerts of one tenant waiting for its sender; when full, a new alert is dropped and recorded as such. Each tenant
    /// has its own sender, so a receiver that hangs delays only its own tenant's alerts.
    /// </summary>
    public int DeliveryQueueCapacity { get; set; } = 100;
}

public sealed class SmtpSettings
{
    /// <summary>The relay's host name; without one, e-mail channels fail (recorded in the history) and webhooks still work.</summary>
    public string? Host { get; set; }

    public int Port { get; set; } = 25;

    /// <summary>None, Auto (STARTTLS when offered), StartTls (required) or SslOnConnect.</summary>
    public SecureSocketOptions Security { get; set; } = SecureSocketOptions.Auto;

    public string From { get; set; } = "tally@localhost";

    public string? UserName { get; set; }

    public string? Password { get; set; }
}

internal sealed class AlertOptionsValidator : IValidateOptions<AlertOptions>
{
    public ValidateOptionsResult Validate(string? name, AlertOptions options)
    {
        var problems = new List<string>();
        if (options.Smtp.Port is < 1 or > 65535)
        {
            problems.Add("Tally:Alerts:Smtp:Port must be between 1 and 65535.");
        }
        if (!MimeKit.MailboxAddress.TryParse(options.Smtp.From, out _))
        {
            problems.Add("Tally:Alerts:Smtp:From must be an e-mail address.");
        }
        if (options.WebhookRetries is < 0 or > 10)
        {
            problems.Add("Tally:Alerts:WebhookRetries must be between 0 and 10.");
        }
        if (options.DeliveryQueueCapacity is < 1 or > 10_000)
        {
            problems.Add("Tally:Alerts:DeliveryQueueCapacity must be between 1 and 10000.");
        }
        if (options.WebhookRetryDelay <= TimeSpan.Zero || options.WebhookAttemptTimeout <= TimeSpan.Zero)
        {
            problems.Add("Tally:Alerts:WebhookRetryDelay and WebhookAttemptTimeout must be positive.");
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
