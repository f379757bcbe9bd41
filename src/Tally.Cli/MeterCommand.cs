using System.CommandLine;

namespace Tally.Cli;

internal static class MeterCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Events as CSV or JSON Lines; '-' reads standard input." };
        var command = new Command("meter", "Meter an event log into units and report usage.") { file };
        command.SetAction(parse => 0);
        return command;
    }
}
