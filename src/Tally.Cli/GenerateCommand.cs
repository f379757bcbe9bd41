using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Tally.Cli.Generation;
using Tally.Metering;

namespace Tally.Cli;

/// <summary><c>tally generate</c>: writes a reproducible, plausible month of events for demos, tests and benchmarks.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var events = new Option<int>("--events") { Description = "Number of events to write.", DefaultValueFactory = _ => 2_000_000 };
        var users = new Option<int>("--users") { Description = "Number of distinct users (u00001, …).", DefaultValueFactory = _ => 20_000 };
        var apps = new Option<int>("--apps") { Description = "Number of distinct apps, used with a Zipf-like popularity.", DefaultValueFactory = _ => 300 };
        var seed = new Option<ulong>("--seed") { Description = "Seed: the same options and seed give byte-identical output.", DefaultValueFactory = _ => 1 };
        var month = new Option<string>("--month") { Description = "The month to fill, YYYY-MM (UTC).", DefaultValueFactory = _ => "2026-03" };
        var months = new Option<int>("--months") { Description = "Consecutive months to fill from --month (1-12), e.g. 2 to show a period reset.", DefaultValueFactory = _ => 1 };
        var format = new Option<string>("--format") { Description = "Output format.", DefaultValueFactory = _ => "csv" };
        format.AcceptOnlyFromAmong("csv", "jsonl");
        var output = new Option<string?>("--out", "-o") { Description = "File to write; standard output when absent or '-'." };
        var reloadShare = new Option<double>("--reload-share") { Description = "Share of events that are scheduled reloads (no user).", DefaultValueFactory = _ => 0.002 };
        var restrictedShare = new Option<double>("--restricted-share") { Description = "Share of engagement steps that are restricted authoring actions.", DefaultValueFactory = _ => 0.004 };
        month.Validators.Add(result =>
        {
            if (!Period.TryParse(result.GetValueOrDefault<string>(), out _))
            {
                result.AddError("--month must be YYYY-MM, e.g. 2026-03");
            }
        });

        var command = new Command("generate", "Write a realistic month (or --months) of engagement events, in time order, as CSV or JSON Lines.")
        {
            events, users, apps, seed, month, months, format, output, reloadShare, restrictedShare,
        };
        command.SetAction(parse =>
        {
            Period.TryParse(parse.GetValue(month), out var period);
            var options = new GeneratorOptions
            {
                Events = parse.GetValue(events),
                Users = parse.GetValue(users),
                Apps = parse.GetValue(apps),
                Seed = parse.GetValue(seed),
                Month = period,
                Months = parse.GetValue(months),
                ReloadShare = parse.GetValue(reloadShare),
                RestrictedShare = parse.GetValue(restrictedShare),
            };
            if (options.Validate() is { } problem)
            {
                parse.InvocationConfiguration.Error.WriteLine(problem);
                return 2;
            }
            var eventFormat = parse.GetValue(format) == "jsonl" ? EventFormat.Jsonl : EventFormat.Csv;
            var path = parse.GetValue(output);
            var clock = Stopwatch.StartNew();
            var generated = new EventGenerator(options).Generate();
            var generatedAt = clock.Elapsed;
            if (path is null or "-")
            {
                using var stdout = Console.OpenStandardOutput();
                EventWriter.Write(generated, stdout, eventFormat);
            }
            else
            {
                using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
                EventWriter.Write(generated, file, eventFormat);
                parse.InvocationConfiguration.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"wrote {options.Events:N0} events to {path} in {clock.Elapsed.TotalSeconds:F2} s (generate {generatedAt.TotalSeconds:F2} s)"));
            }
            return 0;
        });
        return command;
    }
}
