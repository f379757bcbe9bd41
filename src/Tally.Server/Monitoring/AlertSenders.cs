using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using MailKit.Net.Smtp;
using Microsoft.Extensions.Options;
using MimeKit;
using Tally.Storage;

namespace Tally.Server.Monitoring;

/// <summary>What one fired rule says, ready for any channel.</summary>
public sealed record AlertMessage(string Id, string Tenant, AlertRuleRecord Rule, string Period, string Subject, DateTimeOffset FiredAt, string Title, string Text, AlertFigures Figures);

/// <summary>Sends an alert by e-mail through the operator's SMTP relay (MailKit).</summary>
public sealed class EmailSender(IOptions<AlertOptions> options)
{
    public async Task SendAsync(AlertChannelRecord channel, AlertMessage alert, CancellationToken cancel)
    {
        var smtp = options.Value.Smtp;
        if (smtp.Host is not { Length: > 0 } host)
        {
            throw new AlertDeliveryException("no SMTP relay is configured on the server");
        }
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(smtp.From));
        foreach (var to in channel.Target.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            message.To.Add(MailboxAddress.Parse(to));
        }
        message.Subject = alert.Title;
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId("tally.local");
        message.Headers.Add("X-Tally-Alert", alert.Id);
        message.Body = new TextPart("plain") { Text = alert.Text };
        // One attempt (the relay queues and retries mail itself); each SMTP step waits at most 30 s, not MailKit's 2 min,
        // so a hung relay holds this tenant's next alert for a bounded time.
        using var client = new SmtpClient { Timeout = (int)TimeSpan.FromSeconds(30).TotalMilliseconds };
        await client.ConnectAsync(host, smtp.Port, smtp.Security, cancel).ConfigureAwait(false);
        if (smtp.UserName is { Length: > 0 } user)
        {
            await client.AuthenticateAsync(user, smtp.Password ?? "", cancel).ConfigureAwait(false);
        }
        await client.SendAsync(message, cancel).ConfigureAwait(false);
        await client.DisconnectAsync(true, cancel).ConfigureAwait(false);
    }
}

/// <summary>
/// POSTs an alert as JSON to a webhook, signed with HMAC-SHA256 of the exact body bytes under the channel's secret:
/// <c>X-Tally-Signature: sha256=&lt;lowercase hex&gt;</c>. Retries with exponential backoff come from the resilience
/// handler of the named client <see cref="ClientName"/>; the same bytes (and so the same signature) are re-sent.
/// The client connects only to the addresses <see cref="WebhookTargets"/> allows and never follows a redirect.
/// </summary>
public sealed class WebhookSender(IHttpClientFactory clients)
{
    public const string ClientName = "tally-webhooks";
    public const string SignatureHeader = "X-Tally-Signature";

    public static string Sign(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    public async Task SendAsync(AlertChannelRecord channel, AlertMessage alert, byte[] body, CancellationToken cancel)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, channel.Target) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(SignatureHeader, Sign(channel.Secret ?? "", body));
        request.Headers.Add("X-Tally-Alert", alert.Id);
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("Tally", "1"));
        using var response = await clients.CreateClient(ClientName).SendAsync(request, cancel).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            // The status of a target that was allowed is the receiver's own answer; the reason phrase is the
            // receiver's text, so it stays out of the history.
            var status = (int)response.StatusCode;
            throw new AlertDeliveryException(status is >= 300 and < 400 ? $"answered HTTP {status}: redirects are not followed" : $"answered HTTP {status}");
        }
    }
}
