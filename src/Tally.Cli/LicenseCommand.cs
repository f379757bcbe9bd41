using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Tally.Licensing;
using Tally.Metering;

namespace Tally.Cli;

/// <summary>
/// <c>tally license</c>: vendor key pairs, issuing signed license keys, and checking them.
/// Exit codes: 0 success, 1 a key that does not verify (or a file that cannot be read), 2 bad arguments.
/// </summary>
internal static class LicenseCommand
{
    public static Command Create() => Create(TimeProvider.System);

    /// <summary>The clock is a parameter so tests can issue and verify at chosen instants.</summary>
    internal static Command Create(TimeProvider time) =>
        new("license", "Create vendor signing keys, issue signed license keys, and verify or show them.")
        {
            Keygen(), Issue(time), Verify(time), Show(time),
        };

    private static Command Keygen()
    {
        var output = new Option<string>("--out") { Description = "Folder for signing-key.pem (keep secret) and public-key.pem (ship with Tally).", Required = true };
        var force = new Option<bool>("--force") { Description = "Overwrite existing key files. The old signing key is lost and keys it issued stop verifying under the new public key." };
        var command = new Command("keygen", "Create a new ECDSA P-256 vendor key pair.") { output, force };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(output)!;
            var signingPath = Path.Combine(dir, LicenseFiles.SigningKeyFileName);
            var publicPath = Path.Combine(dir, LicenseFiles.PublicKeyFileName);
            var error = parse.InvocationConfiguration.Error;
            if (!parse.GetValue(force) && (File.Exists(signingPath) || File.Exists(publicPath)))
            {
                error.WriteLine($"{dir} already holds a key pair; refusing to overwrite it (use --force to replace it)");
                return 2;
            }
            return Guard(error, () =>
            {
                Directory.CreateDirectory(dir);
                using var key = SigningKeys.Generate();
                WriteSecret(signingPath, SigningKeys.ExportSigningKeyPem(key));
                File.WriteAllText(publicPath, SigningKeys.ExportPublicKeyPem(key));
                parse.InvocationConfiguration.Output.WriteLine($"wrote {signingPath} (owner read/write only: keep it offline and backed up)");
                parse.InvocationConfiguration.Output.WriteLine($"wrote {publicPath} (give this to Tally installations with --public-key)");
                return 0;
            });
        });
        return command;
    }

    /// <summary>Creates the file with mode 0600 from the start, so the private key is never readable by others, even briefly.</summary>
    internal static void WriteSecret(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var writer = new StreamWriter(path, System.Text.Encoding.ASCII, options))
        {
            writer.Write(text);
        }
        if (!OperatingSystem.IsWindows())
        {
            // UnixCreateMode only applies to a new file; an overwritten one (--force) keeps its old mode otherwise.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static Command Issue(TimeProvider time)
    {
        var signingKey = new Option<string>("--signing-key") { Description = "The vendor's signing-key.pem.", Required = true };
        var customer = new Option<string>("--customer") { Description = "Customer name.", Required = true };
        var packs = new Option<int>("--packs") { Description = "Analyzer-capacity packs (0 for a seats-only license).", Required = true };
        var packMinutes = new Option<int>("--pack-minutes") { Description = "Minutes per pack.", DefaultValueFactory = _ => MeterOptions.DefaultPackMinutes };
        var overage = new Option<string>("--overage") { Description = "Overage allowance: none, unlimited, or a number of minutes.", DefaultValueFactory = _ => "none" };
        var mode = new Option<string>("--mode") { Description = "Counting mode: device (client-managed) or app (cloud).", DefaultValueFactory = _ => "device" };
        mode.AcceptOnlyFromAmong("device", "app");
        var professional = new Option<int>("--professional") { Description = "Professional seats." };
        var analyzer = new Option<int>("--analyzer") { Description = "Analyzer seats." };
        var timeZone = new Option<string>("--timezone") { Description = "IANA time zone of the billing month (e.g. Europe/Stockholm).", DefaultValueFactory = _ => LicenseTerms.DefaultTimeZoneId };
        var validFrom = new Option<string?>("--valid-from") { Description = "First valid day (YYYY-MM-DD, from local midnight in --timezone) or an instant with offset. Default: today." };
        var validTo = new Option<string?>("--valid-to") { Description = "End of validity, exclusive (YYYY-MM-DD: that day's local midnight) or an instant with offset. Default: one year after --valid-from." };
        var unitMinutes = new Option<int>("--unit-minutes") { Description = "Minutes per unit.", DefaultValueFactory = _ => MeterOptions.DefaultUnitMinutes };
        var anonymous = new Option<bool>("--anonymous-capacity") { Description = "Allow anonymous users (names starting 'anon:') to draw capacity." };
        var licenseId = new Option<string?>("--license-id") { Description = "License id. Default: a new random id." };
        var output = new Option<string?>("--out") { Description = "File to write the key to; standard output when absent." };
        var command = new Command("issue", "Issue a signed license key.")
        {
            signingKey, customer, packs, packMinutes, overage, mode, professional, analyzer, timeZone, validFrom, validTo,
            unitMinutes, anonymous, licenseId, output,
        };
        command.SetAction(parse =>
        {
            var error = parse.InvocationConfiguration.Error;
            var zoneId = parse.GetValue(timeZone)!;
            if (!TimeZoneInfo.TryFindSystemTimeZoneById(zoneId, out var zone))
            {
                error.WriteLine($"--timezone: unknown time zone '{zoneId}'");
                return 2;
            }
            if (!OverageAllowance.TryParse(parse.GetValue(overage)!, out var allowance))
            {
                error.WriteLine($"--overage must be none, unlimited or a number of minutes, not '{parse.GetValue(overage)}'");
                return 2;
            }
            var now = time.GetUtcNow();
            var today = TimeZoneInfo.ConvertTime(now, zone);
            DateTimeOffset from, to;
            if (parse.GetValue(validFrom) is { } fromText)
            {
                if (!TryParseDate(fromText, zone, out from))
                {
                    error.WriteLine($"--valid-from: '{fromText}' is not a date (YYYY-MM-DD) or an instant with offset");
                    return 2;
                }
            }
            else
            {
                from = LocalMidnight(DateOnly.FromDateTime(today.DateTime), zone);
            }
            if (parse.GetValue(validTo) is { } toText)
            {
                if (!TryParseDate(toText, zone, out to))
                {
                    error.WriteLine($"--valid-to: '{toText}' is not a date (YYYY-MM-DD) or an instant with offset");
                    return 2;
                }
            }
            else
            {
                to = LocalMidnight(DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(from, zone).DateTime).AddYears(1), zone);
            }
            var terms = new LicenseTerms
            {
                LicenseId = parse.GetValue(licenseId) ?? $"LIC-{RandomNumberGenerator.GetHexString(12, lowercase: false)}",
                Customer = parse.GetValue(customer)!,
                IssuedAt = now,
                ValidFrom = from,
                ValidTo = to,
                Mode = parse.GetValue(mode) == "app" ? CountingMode.App : CountingMode.Device,
                UnitMinutes = parse.GetValue(unitMinutes),
                Packs = parse.GetValue(packs),
                PackMinutes = parse.GetValue(packMinutes),
                Overage = allowance,
                ProfessionalSeats = parse.GetValue(professional),
                AnalyzerSeats = parse.GetValue(analyzer),
                TimeZoneId = zoneId,
                AnonymousCapacity = parse.GetValue(anonymous),
            };
            if (terms.Validate() is { } problem)
            {
                error.WriteLine($"cannot issue: {problem}");
                return 2;
            }
            return Guard(error, () =>
            {
                var keyPath = parse.GetValue(signingKey)!;
                var imported = SigningKeys.ImportSigningKey(File.ReadAllText(keyPath));
                if (!imported.IsOk)
                {
                    error.WriteLine($"--signing-key {keyPath}: {imported.Error}");
                    return 2;
                }
                using var key = imported.Value;
                var licenseKey = new LicenseIssuer(key).Issue(terms);
                if (parse.GetValue(output) is { } path)
                {
                    File.WriteAllText(path, licenseKey + "\n");
                    parse.InvocationConfiguration.Output.WriteLine($"issued {terms.LicenseId} for {terms.Customer} to {path}");
                }
                else
                {
                    parse.InvocationConfiguration.Output.WriteLine(licenseKey);
                }
                return 0;
            });
        });
        return command;
    }

    private static Command Verify(TimeProvider time)
    {
        var file = new Argument<string>("FILE") { Description = "The license key file." };
        var publicKey = new Option<string>("--public-key") { Description = "The vendor's public-key.pem.", Required = true };
        var command = new Command("verify", "Verify a license key's signature and validity now; print its terms when valid.") { file, publicKey };
        command.SetAction(parse => Guard(parse.InvocationConfiguration.Error, () =>
        {
            var result = LicenseFiles.Load(parse.GetValue(file)!, parse.GetValue(publicKey)!, time.GetUtcNow());
            if (!result.IsValid)
            {
                parse.InvocationConfiguration.Error.WriteLine($"license invalid: {result}");
                return 1;
            }
            parse.InvocationConfiguration.Output.WriteLine("license valid");
            WriteTerms(parse.InvocationConfiguration.Output, result.Terms);
            return 0;
        }));
        return command;
    }

    private static Command Show(TimeProvider time)
    {
        var file = new Argument<string>("FILE") { Description = "The license key file." };
        var publicKey = new Option<string?>("--public-key") { Description = "Verify against this public-key.pem as well." };
        var command = new Command("show", "Print a license key's terms. Without --public-key nothing is verified.") { file, publicKey };
        command.SetAction(parse => Guard(parse.InvocationConfiguration.Error, () =>
        {
            var output = parse.InvocationConfiguration.Output;
            var path = parse.GetValue(file)!;
            var read = LicenseKey.ReadUnverified(LicenseFiles.ReadKey(path));
            if (!read.IsValid)
            {
                parse.InvocationConfiguration.Error.WriteLine($"cannot read license: {read}");
                return 1;
            }
            WriteTerms(output, read.Terms);
            if (parse.GetValue(publicKey) is not { } publicKeyPath)
            {
                output.WriteLine("NOT VERIFIED: signature and dates were not checked (pass --public-key to verify)");
                return 0;
            }
            var verified = LicenseFiles.Load(path, publicKeyPath, time.GetUtcNow());
            if (!verified.IsValid)
            {
                output.WriteLine($"NOT VERIFIED: {verified}");
                return 1;
            }
            output.WriteLine("VERIFIED: signature valid and license in force now");
            return 0;
        }));
        return command;
    }

    private static void WriteTerms(TextWriter output, LicenseTerms terms)
    {
        static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var lines = new (string Label, string Value)[]
        {
            ("license id", terms.LicenseId),
            ("customer", terms.Customer),
            ("issued at", Instant(terms.IssuedAt)),
            ("valid from", Instant(terms.ValidFrom)),
            ("valid to", $"{Instant(terms.ValidTo)} (exclusive)"),
            ("mode", terms.Mode == CountingMode.App ? "app" : "device"),
            ("unit minutes", terms.UnitMinutes.ToString(CultureInfo.InvariantCulture)),
            ("packs", string.Create(CultureInfo.InvariantCulture, $"{terms.Packs} x {terms.PackMinutes} min = {terms.IncludedMinutes} min included")),
            ("overage", terms.Overage.ToString()),
            ("professional seats", terms.ProfessionalSeats.ToString(CultureInfo.InvariantCulture)),
            ("analyzer seats", terms.AnalyzerSeats.ToString(CultureInfo.InvariantCulture)),
            ("time zone", terms.TimeZoneId),
            ("anonymous capacity", terms.AnonymousCapacity ? "yes" : "no"),
        };
        foreach (var (label, value) in lines)
        {
            output.WriteLine($"{label + ":",-20}{value}");
        }
    }

    /// <summary>A YYYY-MM-DD date means local midnight in the license's zone; anything else must be an instant with an offset.</summary>
    private static bool TryParseDate(string text, TimeZoneInfo zone, out DateTimeOffset instant)
    {
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            instant = LocalMidnight(date, zone);
            return true;
        }
        // Without an explicit offset an instant would silently mean this machine's zone: refuse it.
        var hasOffset = text.EndsWith('Z') || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out instant) & hasOffset;
    }

    /// <summary>The first instant of <paramref name="date"/> in <paramref name="zone"/> (a skipped midnight moves to the first valid minute).</summary>
    private static DateTimeOffset LocalMidnight(DateOnly date, TimeZoneInfo zone)
    {
        var local = date.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(1);
        }
        var offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }

    /// <summary>Files that cannot be read or written are reported, not thrown: the user mistyped a path.</summary>
    internal static int Guard(TextWriter error, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine(e.Message);
            return 1;
        }
    }
}
