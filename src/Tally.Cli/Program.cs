using System.CommandLine;
using Tally.Cli;

// Each feature owns one command factory; this file only assembles them.
var root = new RootCommand("Tally: consumption-based capacity licensing. Meter engagement into six-minute units against monthly minute pools.")
{
    MeterCommand.Create(),
    GenerateCommand.Create(),
    LicenseCommand.Create(),
    ServeCommand.Create(),
    ClusterCertCommand.Create(),
    ReportCommand.Create(),
    HealthCommand.Create(),
    ImportCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
