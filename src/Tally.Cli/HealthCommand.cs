using System.CommandLine;

namespace Tally.Cli;

/// <summary>
/// <c>tally health</c>: asks a running server whether it is ready and answers with the exit code (0 ready, 1 not).
/// A container's HEALTHCHECK runs it: the aspnet base image has neither curl nor wget.
/// </summary>
internal static class HealthCommand
{
    public static Command Create()
    {
        var url = new Option<string>("--url")
        {
            Description = "The readiness address to ask.",
            DefaultValueFactory = _ => "http://localhost:5000/health/ready",
        };
        url.Validators.Add(result =>
        {
            if (!Uri.TryCreate(result.GetValueOrDefault<string>(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                result.AddError("--url must be an absolute http or https address, such as http://localhost:5000/health/ready.");
            }
        });
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the answer.", DefaultValueFactory = _ => 5 };
        var command = new Command("health", "Check that a Tally server is ready (GET /health/ready): exit code 0 when it answers 200, 1 otherwise.")
        {
            url, timeout,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var address = new Uri(parse.GetValue(url)!);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(timeout))) };
            try
            {
                using var response = await http.GetAsync(address, cancel);
                var body = await response.Content.ReadAsStringAsync(cancel);
                await parse.InvocationConfiguration.Output.WriteLineAsync($"{(int)response.StatusCode} {body}");
                return response.IsSuccessStatusCode ? 0 : 1;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"tally health: {address} did not answer: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
