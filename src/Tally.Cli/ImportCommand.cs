using System.CommandLine;
using System.Text.Json;
using Tally.Import;
using Tally.Import.QlikCloud;
using Tally.Import.Qrs;

namespace Tally.Cli;

/// <summary>
/// <c>tally import</c>: one pull from the command line (rule R13). <c>qlik-cloud</c> and <c>qseow</c> read a source once
/// and write what it reported (license, seats, records) as JSON to a file or standard output, for a look before a
/// tenant observes it or for another tool; <c>pull</c> asks a running server to pull one of a tenant's sources now.
/// Secrets come from files, never from the command line (where other users' <c>ps</c> would show them).
/// </summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var command = new Command("import", "Read usage from Qlik Cloud or a QSEoW site once (to a file), or have a server pull a tenant's source now.")
        {
            QlikCloud(), Qseow(), Pull(),
        };
        return command;
    }

    /// <summary>A required absolute http(s) address, refused with a clear message before anything runs.</summary>
    private static Option<string> Address(string name, string description)
    {
        var option = new Option<string>(name) { Description = description, Required = true };
        option.Validators.Add(result =>
        {
            if (!Uri.TryCreate(result.GetValueOrDefault<string>(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                result.AddError($"{name} must be an absolute http or https address.");
            }
        });
        return option;
    }

    private static Option<DateTimeOffset?> Since() => new("--since")
    {
        Description = "Records ended (QSEoW: changed) at or after this instant, ISO 8601 with an offset. Default: 62 days ago.",
    };

    private static Option<FileInfo?> Out() => new("--out") { Description = "Write the JSON here (default: standard output)." };

    private static Command QlikCloud()
    {
        var url = Address("--url", "The tenant's address, e.g. https://acme.eu.qlikcloud.com.");
        var keyFile = new Option<FileInfo>("--api-key-file") { Description = "A file holding the API key (a tenant admin's).", Required = true };
        var (since, output) = (Since(), Out());
        var command = new Command("qlik-cloud", "Read a Qlik Cloud tenant's licenses API once: overview, assignments and consumption.") { url, keyFile, since, output };
        command.SetAction((parse, cancel) => RunAsync(parse, output, since,
            () => new QlikCloudSource(new Uri(parse.GetValue(url)!), ReadSecret(parse.GetValue(keyFile)!), TimeProvider.System), cancel));
        return command;
    }

    private static Command Qseow()
    {
        var url = Address("--url", "The QRS address: https://host:4242/ (certificate) or https://proxy/prefix/ (header).");
        var pfx = new Option<FileInfo?>("--pfx") { Description = "The client certificate from the QMC (client.pfx)." };
        var passwordFile = new Option<FileInfo?>("--password-file") { Description = "A file holding the PFX's password." };
        var certificate = new Option<FileInfo?>("--cert") { Description = "The client certificate as PEM (client.pem), with --key." };
        var key = new Option<FileInfo?>("--key") { Description = "The client certificate's key as PEM (client_key.pem)." };
        var header = new Option<string?>("--header") { Description = "Header authentication through a virtual proxy: the header's name (with --user)." };
        var user = new Option<string?>("--user") { Description = "With --header: the user the proxy signs in (e.g. ACME\\svc_tally)." };
        var ca = new Option<FileInfo?>("--ca") { Description = "The site's CA certificate (root.pem or root.cer) to trust for the server." };
        var qrsUser = new Option<string?>("--qrs-user") { Description = "With a certificate: the user requests act as, DIRECTORY\\userid (default INTERNAL\\sa_repository)." };
        var (since, output) = (Since(), Out());
        var command = new Command("qseow", "Read a QSEoW site's QRS once: analyzer time usage, the pool and the seats.")
        {
            url, pfx, passwordFile, certificate, key, header, user, ca, qrsUser, since, output,
        };
        command.Validators.Add(result =>
        {
            var ways = new[] { result.GetValue(pfx) is not null, result.GetValue(certificate) is not null, result.GetValue(header) is not null }.Count(w => w);
            if (ways != 1)
            {
                result.AddError("Sign in one way: --pfx (with --password-file if it has one), --cert with --key, or --header with --user.");
            }
            else if ((result.GetValue(certificate) is not null && result.GetValue(key) is null) || (result.GetValue(header) is not null && result.GetValue(user) is null))
            {
                result.AddError("--cert needs --key, and --header needs --user.");
            }
        });
        command.SetAction((parse, cancel) => RunAsync(parse, output, since, () =>
        {
            QrsAuthentication authentication;
            if (parse.GetValue(header) is { } name)
            {
                authentication = new QrsHeaderAuthentication(name, parse.GetValue(user)!);
            }
            else
            {
                var client = parse.GetValue(pfx) is { } file
                    ? QrsCertificates.LoadClientPfx(file.FullName, parse.GetValue(passwordFile) is { } secret ? ReadSecret(secret) : null)
                    : QrsCertificates.LoadClientPem(parse.GetValue(certificate)!.FullName, parse.GetValue(key)!.FullName);
                authentication = QrsCertificateAuthentication.ActingAs(client, parse.GetValue(qrsUser));
            }
            var trust = parse.GetValue(ca) is { } root ? QrsServerTrust.CustomRoot(QrsCertificates.LoadAuthority(root.FullName)) : null;
            return new QrsSource(new QrsOptions(new Uri(parse.GetValue(url)!), authentication, trust), TimeProvider.System);
        }, cancel));
        return command;
    }

    private static Command Pull()
    {
        var server = Address("--server", "The Tally server, e.g. http://localhost:5000.");
        var keyFile = new Option<FileInfo>("--key-file") { Description = "A file holding the tenant's admin key.", Required = true };
        var source = new Option<string>("--source") { Description = "The source's id (GET /api/v1/sources lists them).", Required = true };
        var command = new Command("pull", "Have the server pull a tenant's source now (POST /api/v1/sources/{id}/pull) and print what it did.") { server, keyFile, source };
        command.SetAction(async (parse, cancel) =>
        {
            using var http = new HttpClient { BaseAddress = new Uri(parse.GetValue(server)!), Timeout = TimeSpan.FromMinutes(30) };
            http.DefaultRequestHeaders.Authorization = new("Bearer", ReadSecret(parse.GetValue(keyFile)!));
            try
            {
                using var response = await http.PostAsync($"/api/v1/sources/{Uri.EscapeDataString(parse.GetValue(source)!)}/pull", null, cancel);
                var body = await response.Content.ReadAsStringAsync(cancel);
                await parse.InvocationConfiguration.Output.WriteLineAsync(body.TrimEnd());
                return response.IsSuccessStatusCode && !body.Contains("\"failure\"", StringComparison.Ordinal) ? 0 : 1;
            }
            catch (HttpRequestException e)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"tally import pull: {parse.GetValue(server)} did not answer: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>What one read of a source gave, as written out.</summary>
    private sealed record ImportedSource(ObservedLicense License, IReadOnlyList<ObservedSeat> Seats, IReadOnlyList<ObservedRecord> Records);

    private static async Task<int> RunAsync(ParseResult parse, Option<FileInfo?> output, Option<DateTimeOffset?> since, Func<IUsageSource> open, CancellationToken cancel)
    {
        var error = parse.InvocationConfiguration.Error;
        try
        {
            using var source = open();
            var license = await source.LicenseAsync(cancel);
            var seats = await source.SeatsAsync(cancel);
            var records = new List<ObservedRecord>();
            var position = 0;
            await foreach (var record in source.RecordsSince(parse.GetValue(since) ?? TimeProvider.System.GetUtcNow().AddDays(-62), cancel))
            {
                position++;
                if (ObservedRecordCheck.Problem(record) is { } problem)
                {
                    await error.WriteLineAsync($"tally import: record {position} ({record.RecordId}): {problem}.");
                    return 1;
                }
                records.Add(record);
            }
            var json = JsonSerializer.Serialize(new ImportedSource(license, seats, records), JsonOptions);
            if (parse.GetValue(output) is { } file)
            {
                await File.WriteAllTextAsync(file.FullName, json + "\n", cancel);
                await parse.InvocationConfiguration.Output.WriteLineAsync($"{records.Count} records, {seats.Count} seats written to {file.FullName}");
            }
            else
            {
                await parse.InvocationConfiguration.Output.WriteLineAsync(json);
            }
            return 0;
        }
        catch (SourceException e)
        {
            await error.WriteLineAsync($"tally import: {e.Failure}: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            await error.WriteLineAsync($"tally import: {e.Message}");
            return 2;
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>A secret from its file, without the line break an editor adds.</summary>
    private static string ReadSecret(FileInfo file) => File.ReadAllText(file.FullName).Trim();
}
