using System.Diagnostics;
using System.Globalization;
using Tally.Backtest;

// dotnet run --project bench/Tally.Backtest -c Release -- --seed 20261130 [--users 3000] [--out FILE.md]
// Exit code: 0 when every target is met, 2 when one is missed, 1 on bad arguments.
var seed = 20261130;
var users = 3000;
string? output = null;
for (var i = 0; i < args.Length; i++)
{
    var value = i + 1 < args.Length ? args[i + 1] : null;
    switch (args[i])
    {
        case "--seed" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var s):
            seed = s;
            i++;
            break;
        case "--users" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var u) && u > 0:
            users = u;
            i++;
            break;
        case "--out" when value is not null:
            output = value;
            i++;
            break;
        default:
            Console.Error.WriteLine($"tally-backtest: unexpected '{args[i]}'. Usage: --seed N [--users N] [--out FILE.md]");
            return 1;
    }
}

var settings = new BacktestSettings(users, seed);
var clock = Stopwatch.StartNew();
var results = Backtest.Run(settings);
var summary = BacktestSummary.Of(settings, results);
clock.Stop();
var markdown = BacktestReport.Markdown(settings, results, summary, TimeProvider.System.GetUtcNow(), clock.Elapsed);
Console.Write(markdown);
if (output is not null)
{
    File.WriteAllText(output, markdown);
}
return summary.AllPass ? 0 : 2;
