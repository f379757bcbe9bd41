using System.CommandLine;
using System.Globalization;
using System.Runtime;
using System.Text;
using Spectre.Console;
using Tally.Cli.EventLog;
using Tally.Licensing;
using Tally.Metering;

namespace Tally.Cli;

internal static class MeterCommand
{
    /// <summary>Exit code for bad lines in the event log (R12). Options, the license and the users file exit 1.</summary>
    public const int BadInputExitCode = 2;

    private static readonly Argument<string> FileArgument = new("FILE") { Description = "Events as CSV (.csv) or JSON Lines (.jsonl, .ndjson); '-' reads standard input." };
    private static readonly Option<string?> InputFormat = new("--input-format") { Description = "csv or jsonl; required with '-', overrides the extension otherwise." };
    private static readonly MeterOptionSet Metering = new();
    private static readonly Option<string> Format = new("--format") { Description = "table, json or csv.", DefaultValueFactory = _ => "table" };
    private static readonly Option<bool> SkipInvalid = new("--skip-invalid") { Description = "Skip bad lines (still counted and reported) instead of failing." };
    private static readonly Option<bool> ListUnits = new("--list-units") { Description = "Include every unit in the output." };
    private static readonly Option<string?> License = new("--license") { Description = "A signed license key file: the pool, overage, mode, unit, time zone and seats come from it." };
    private static readonly Option<string?> PublicKey = new("--public-key") { Description = "The vendor's public key (PEM) that verifies --license." };
    private static readonly Option<string?> Users = new("--users") { Description = "Allocations, groups and caps: CSV user,allocation,groups,capMinutes (see docs/licensing.md)." };
    private static readonly Option<bool> Timings = new("--timings") { Description = "Print how long reading, metering and writing took to stderr." };
    private static readonly Option<int> Top = new("--top") { Description = "Rows in the table format's top users and apps, and in each period's waste users and apps.", DefaultValueFactory = _ => 20 };
    private static readonly Option<string?> CloseIdleAfter = new("--close-idle-after")
    {
        Description = "What-if: meter the log again as if every connection closed after this long without its user's engagement, and report the minutes saved (30m, 1h, 2d, or minutes).",
    };

    public static Command Create()
    {
        var command = new Command("meter", "Meter an event log into six-minute units against a monthly pool and report usage.")
        {
            FileArgument, InputFormat, Format, SkipInvalid, ListUnits, Top, License, PublicKey, Users, Timings, CloseIdleAfter,
        };
        Metering.AddTo(command);
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult parse)
    {
        // One batch of work, then exit: a background collection running beside the parse would only take a core
        // from it, and nobody waits on a pause here.
        var latency = GCSettings.LatencyMode;
        GCSettings.LatencyMode = GCLatencyMode.Batch;
        var noCollections = TryStartNoCollections(parse);
        try
        {
            return Meter(parse);
        }
        finally
        {
            if (noCollections && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
            {
                GC.EndNoGCRegion();
            }
            GCSettings.LatencyMode = latency;
        }
    }

    /// <summary>Bytes a run may allocate per byte of the file without a collection (2M events, a 126 MB file: 299 MiB, about 2.5 per byte).</summary>
    private const long AllocationPerFileByte = 4;

    /// <summary>
    /// Asks the runtime to run the whole command without a garbage collection when its allocations fit comfortably
    /// in memory. Everything the read allocates lives until the report is written, so a collection finds almost
    /// nothing to free, yet each full one marks the whole log (0.6–1.4 s of pauses per 2M events under load, three or
    /// four of them set off by the log's large arrays). Only for a file read by the tally process itself: callers in
    /// the same process (tests) share the heap, and standard input has no size to plan for. If the run allocates
    /// more than planned the runtime simply collects as usual.
    /// </summary>
    private static bool TryStartNoCollections(ParseResult parse)
    {
        if (!ReferenceEquals(parse.InvocationConfiguration.Output, Console.Out) || parse.GetValue(FileArgument) is not { } path || path == "-")
        {
            return false;
        }
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            return false;
        }
        var budget = (file.Length * AllocationPerFileByte) + (64L << 20);
        if (budget > GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4)
        {
            return false;
        }
        try
        {
            return GC.TryStartNoGCRegion(budget);
        }
        catch (Exception ex) when (ex is ArgumentOutOfRangeException or InvalidOperationException)
        {
            return false; // more than this runtime allows in one region, or a region already open
        }
    }

    private static int Meter(ParseResult parse)
    {
        var stdout = parse.InvocationConfiguration.Output;
        var stderr = parse.InvocationConfiguration.Error;
        var built = BuildSettings(parse);
        if (!built.IsOk)
        {
            stderr.WriteLine($"tally meter: {built.Error}");
            return 1;
        }
        var settings = built.Value;
        var path = parse.GetValue(FileArgument)!;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ParsedLog log;
        try
        {
            log = Read(path, settings.InputFormat, stderr);
        }
        catch (IOException ex)
        {
            stderr.WriteLine($"tally meter: cannot read '{path}': {ex.Message}");
            return 1;
        }
        catch (UnauthorizedAccessException ex)
        {
            stderr.WriteLine($"tally meter: cannot read '{path}': {ex.Message}");
            return 1;
        }

        if (log.InvalidLines > 0)
        {
            foreach (var error in log.Errors)
            {
                stderr.WriteLine($"{DisplayName(path)}: {error}");
            }
            if (log.InvalidLines > log.Errors.Count)
            {
                stderr.WriteLine($"{DisplayName(path)}: … and {log.InvalidLines - log.Errors.Count} more bad lines");
            }
            if (!parse.GetValue(SkipInvalid))
            {
                stderr.WriteLine($"tally meter: {log.InvalidLines} bad line(s); nothing was metered. Fix them or pass --skip-invalid to meter the rest.");
                return BadInputExitCode;
            }
        }

        var readTime = clock.Elapsed;
        if (!CreateDirectory(settings, log, stderr, out var directory))
        {
            return 1;
        }
        var listUnits = parse.GetValue(ListUnits);
        var result = MeterRun.Run(log, settings.Options, directory, keepUnits: listUnits, settings.PackMinutes, settings.Quiet) with
        {
            License = settings.License,
            Directory = directory,
        };
        var meterTime = clock.Elapsed;
        if (settings.CloseIdleAfterMinutes is { } closeIdle)
        {
            // The what-if replays the events already parsed (standard input too): parsing is most of a run's time, and
            // a directory hands out seats as it meets users, so the second run gets its own.
            _ = CreateDirectory(settings, log, stderr, out var whatIfDirectory); // the same inputs succeeded above
            result = result with
            {
                WithCloseIdle = MeterRun.Run(log, settings.Options with { CloseIdleAfterMinutes = closeIdle }, whatIfDirectory, keepUnits: false,
                    settings.PackMinutes, settings.Quiet),
            };
        }
        var whatIfTime = clock.Elapsed;
        if (settings.License is { } license && OutsideValidity(log, license) is { } warning)
        {
            stderr.WriteLine(warning);
        }
        switch (settings.Format)
        {
            case "json":
                WriteJson(result, stdout, listUnits, parse.GetValue(Top));
                break;
            case "csv":
                MeterReportWriter.WriteCsv(result, stdout, listUnits);
                break;
            default:
                var console = CliConsole.For(stdout);
                MeterReportWriter.WriteTables(result, console, parse.GetValue(Top));
                break;
        }
        if (parse.GetValue(Timings))
        {
            var whatIf = result.WithCloseIdle is null ? "" : $", what-if {(whatIfTime - meterTime).TotalSeconds:F3} s";
            stderr.WriteLine($"timings: read {readTime.TotalSeconds:F3} s, meter {(meterTime - readTime).TotalSeconds:F3} s{whatIf}, write {(clock.Elapsed - whatIfTime).TotalSeconds:F3} s, events {log.Events.Count:N0}; GC: {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)} collections (gen 0/1/2), paused {GC.GetTotalPauseDuration().TotalSeconds:F3} s, allocated {GC.GetTotalAllocatedBytes() >> 20:N0} MiB");
        }
        return 0;
    }

    /// <summary>The R9 directory when a license or users file was given (null otherwise), or false once its errors are written.</summary>
    private static bool CreateDirectory(Settings settings, ParsedLog log, TextWriter stderr, out UserDirectory? directory)
    {
        directory = null;
        if (settings.Plan is null && settings.License is null)
        {
            return true;
        }
        var seats = settings.License?.ToSeatLicense() ?? SeatLicense.Unlimited;
        var created = UserDirectory.Create(settings.Plan ?? AllocationPlan.Empty, seats, log.Users);
        foreach (var error in created.Errors)
        {
            stderr.WriteLine($"tally meter: allocation: {error}");
        }
        directory = created.Directory;
        return created.IsValid;
    }

    /// <summary>
    /// A log replayed under a license whose validity does not cover it meters (almost) nothing, which looks like a
    /// bug in Tally unless said: the usual cause is a license issued from today for last month's log.
    /// </summary>
    internal static string? OutsideValidity(ParsedLog log, LicenseTerms license)
    {
        var window = new ValidityWindow(license.ValidFrom.UtcTicks, license.ValidTo.UtcTicks);
        var outside = log.Events.Count(e => !window.Contains(e.TimeTicks));
        if (outside == 0)
        {
            return null;
        }
        static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture,
            $"warning: {outside:N0} of {log.Events.Count:N0} events fall outside the license's validity {Instant(license.ValidFrom)} – {Instant(license.ValidTo)} and are denied (license-expired) or free; issue the license with --valid-from/--valid-to covering the log");
    }

    /// <summary>
    /// JSON goes straight to the standard output stream as UTF-8 (a unit listing can be large); a redirected writer
    /// (tests, embedding) gets the same bytes as text.
    /// </summary>
    private static void WriteJson(MeterResult result, TextWriter stdout, bool listUnits, int top)
    {
        if (ReferenceEquals(stdout, Console.Out))
        {
            using var stream = Console.OpenStandardOutput();
            MeterReportWriter.WriteJson(result, stream, listUnits, top);
            stream.WriteByte((byte)'\n');
            return;
        }
        using var buffer = new MemoryStream();
        MeterReportWriter.WriteJson(result, buffer, listUnits, top);
        stdout.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    private sealed record Settings(MeterOptions Options, LogFormat InputFormat, string Format, int PackMinutes, TimeSpan Quiet)
    {
        /// <summary><c>--close-idle-after</c> in minutes: meter again with <see cref="MeterOptions.CloseIdleAfterMinutes"/>.</summary>
        public int? CloseIdleAfterMinutes { get; init; }

        public LicenseTerms? License { get; init; }

        public AllocationPlan? Plan { get; init; }
    }

    /// <summary>What the command line asks for, checked: the options, the license and the users file applied; or the first problem.</summary>
    private static Outcome<Settings, string> BuildSettings(ParseResult parse)
    {
        var path = parse.GetValue(FileArgument)!;
        LogFormat format;
        var inputFormat = parse.GetValue(InputFormat);
        if (inputFormat is not null)
        {
            if (inputFormat is not ("csv" or "jsonl"))
            {
                return $"--input-format must be csv or jsonl, not '{inputFormat}'";
            }
            format = inputFormat == "csv" ? LogFormat.Csv : LogFormat.Jsonl;
        }
        else if (path == "-")
        {
            return "reading standard input ('-') needs --input-format csv or jsonl";
        }
        else if (EventLogReader.FormatFromExtension(path) is { } byExtension)
        {
            format = byExtension;
        }
        else
        {
            return $"cannot tell the format of '{path}' from its extension; use .csv, .jsonl or .ndjson, or pass --input-format";
        }

        var output = parse.GetValue(Format)!;
        if (output is not ("table" or "json" or "csv"))
        {
            return $"--format must be table, json or csv, not '{output}'";
        }
        var meter = Metering.Build(parse);
        if (!meter.IsOk)
        {
            return meter.Error;
        }
        int? closeIdle = null;
        if (parse.GetValue(CloseIdleAfter) is { } closeIdleText)
        {
            var parsed = ParseCloseIdle(closeIdleText, meter.Value.Options);
            if (!parsed.IsOk)
            {
                return parsed.Error;
            }
            closeIdle = parsed.Value;
        }
        var settings = new Settings(meter.Value.Options, format, output, meter.Value.PackMinutes, meter.Value.Quiet)
        {
            CloseIdleAfterMinutes = closeIdle,
        };
        var licensed = ApplyLicense(parse, settings);
        return licensed.IsOk ? ReadUsers(parse, licensed.Value) : licensed;
    }

    /// <summary>
    /// With <c>--license</c>, the verified terms replace the pool options. Only the signature is checked here, not
    /// today's date: a log is replayed at its own times, and events outside the validity window are denied
    /// <c>license-expired</c> one by one.
    /// </summary>
    private static Outcome<Settings, string> ApplyLicense(ParseResult parse, Settings settings)
    {
        var licensePath = parse.GetValue(License);
        var publicKeyPath = parse.GetValue(PublicKey);
        if (licensePath is null)
        {
            return publicKeyPath is null ? settings : "--public-key is only used with --license";
        }
        if (publicKeyPath is null)
        {
            return "--license needs --public-key: a license is only used once its signature is verified";
        }
        var conflicting = Metering.SetByLicense
            .Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
        if (conflicting.Count > 0)
        {
            return $"the license sets the pool, overage, mode, unit and time zone; drop {string.Join(", ", conflicting)}";
        }
        try
        {
            var imported = SigningKeys.ImportPublicKey(File.ReadAllText(publicKeyPath));
            if (!imported.IsOk)
            {
                return $"--public-key: cannot use {publicKeyPath}: {imported.Error}";
            }
            using var publicKey = imported.Value;
            var verification = new LicenseVerifier(publicKey).VerifyAuthentic(LicenseFiles.ReadKey(licensePath));
            if (verification.Terms is not { } terms)
            {
                return $"license rejected ({verification})";
            }
            return settings with
            {
                Options = terms.ToMeterOptions() with { SessionTimeoutMinutes = settings.Options.SessionTimeoutMinutes },
                PackMinutes = terms.PackMinutes,
                License = terms,
            };
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"cannot read the license or public key: {ex.Message}";
        }
    }

    /// <summary>
    /// <c>--close-idle-after</c>: whole minutes (<c>45</c>), or a number with <c>m</c>, <c>h</c> or <c>d</c> (<c>30m</c>,
    /// <c>1h</c>, <c>2d</c>), in the bounds the meter accepts.
    /// </summary>
    internal static Outcome<int, string> ParseCloseIdle(string text, MeterOptions options)
    {
        var trimmed = text.Trim();
        var (digits, perUnit) = trimmed.Length > 0 && char.IsAsciiLetter(trimmed[^1])
            ? (trimmed[..^1], char.ToLowerInvariant(trimmed[^1]) switch { 'm' => 1L, 'h' => 60L, 'd' => 1440L, _ => 0L })
            : (trimmed, 1L);
        if (perUnit == 0 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            return $"--close-idle-after: '{text}' is not a duration; give minutes (45) or a number with m, h or d (30m, 1h, 2d)";
        }
        // Past the bound is refused below; clamping first keeps a huge count from overflowing into a valid one.
        var minutes = (int)Math.Min(Math.Min(count, int.MaxValue) * perUnit, int.MaxValue);
        return (options with { CloseIdleAfterMinutes = minutes }).Validate() is { } invalid ? $"--close-idle-after: {invalid}, not '{text}'" : minutes;
    }

    private static Outcome<Settings, string> ReadUsers(ParseResult parse, Settings settings)
    {
        if (parse.GetValue(Users) is not { } path)
        {
            return settings;
        }
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"--users: cannot read '{path}': {ex.Message}";
        }
        var parsed = UsersFile.Parse(text);
        if (parsed.Plan is null)
        {
            return string.Join(Environment.NewLine, parsed.Errors.Select(e => $"--users {path}: {e}"));
        }
        return settings with { Plan = parsed.Plan };
    }

    private static ParsedLog Read(string path, LogFormat format, TextWriter stderr)
    {
        if (path == "-")
        {
            return EventLogReader.Read(Console.In, format);
        }
        var length = new FileInfo(path).Length;
        // A progress bar only helps a person watching a terminal; pipes and tests get clean stderr.
        if (!ReferenceEquals(stderr, Console.Error) || Console.IsErrorRedirected || length < (8 << 20))
        {
            return EventLogReader.ReadFile(path, format);
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress().AutoClear(true).Start(ctx =>
        {
            var task = ctx.AddTask("reading events", maxValue: length);
            return EventLogReader.ReadFile(path, format, chars => task.Value = Math.Min(chars, length));
        });
    }

    private static string DisplayName(string path) => path == "-" ? "stdin" : path;
}
