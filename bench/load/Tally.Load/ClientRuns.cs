using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Tally.Client;
using Tally.Contract;

/// <summary>
/// Tally.Client against a running server (issue 18), side by side with hand-written baselines in the same process:
///   client  --url U --key K [--events 100000] [--naive-events 5000] [--users 1000] [--apps 5] [--rounds 5]
///           [--batches 200,1000] [--buffer-dir D]
///     per round, alternating: the client (Track N times, then FlushAsync) and a hand-written loop (the same events, in
///     batches of the same size, one HttpClient, one request after another) for each batch size, then the naive loop
///     (one POST per event, NAIVE-EVENTS of them). Prints every round to stderr and a table of medians to stdout.
///   client-outage --url U --key K [--events 100000] [--batch 200] [--buffer-dir D] [--ready-file F]
///     with nothing listening on U: Track N and FlushAsync (everything goes to the local buffer), then writes F and
///     waits for the caller to start the server on U; times the drain until Status.Buffered is 0, then runs the
///     hand-written loop for the same N against the server, in the same process. Prints one table row.
/// </summary>
internal static class ClientRuns
{
    private static readonly JsonSerializerOptions Wire = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private sealed record Workload(string[] Users, string[] Apps)
    {
        public static Workload From(Options o) => new(
            [.. Enumerable.Range(0, o.Int("users", 1000)).Select(i => $"user-{i}")],
            [.. Enumerable.Range(0, o.Int("apps", 5)).Select(i => $"app-{i}")]);

        public string User(int i) => Users[i % Users.Length];

        public string App(int i) => Apps[(i / Users.Length) % Apps.Length];
    }

    /// <summary>Wall seconds, Track's caller-side ns per call (client runs), this process's CPU seconds over the same span.</summary>
    private readonly record struct Run(double Seconds, double TrackNsPerCall, string? Error, double CpuSeconds = 0);

    private static TimeSpan Cpu() => Process.GetCurrentProcess().TotalProcessorTime;

    public static async Task<int> Throughput(Options o)
    {
        var url = new Uri(o.Url);
        var key = o.Require("key");
        var n = o.Int("events", 100_000);
        var naiveN = o.Int("naive-events", 5_000);
        var rounds = o.Int("rounds", 5);
        var batches = (o.Get("batches") ?? "200,1000").Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToArray();
        var dir = o.Get("buffer-dir") ?? Path.Combine(Path.GetTempPath(), $"tally-client-load-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        var work = Workload.From(o);
        var results = new Dictionary<string, List<Run>>();
        void Add(string name, Run run, int events)
        {
            (results.TryGetValue(name, out var list) ? list : results[name] = []).Add(run);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {run.Seconds:0.000} s, {events / run.Seconds:N0} events/s, {run.CpuSeconds * 1e6 / events:0.0} CPU-µs/event{(run.TrackNsPerCall > 0 ? $", Track {run.TrackNsPerCall:0} ns/call" : "")}{(run.Error is null ? "" : ", ERROR " + run.Error)}"));
        }

        // Warm-up (JIT, connections, the server's tiers): a small run of each, not counted.
        var runId = 0;
        foreach (var b in batches)
        {
            await ClientRun(url, key, Path.Combine(dir, $"warm-{b}.db"), b, 10_000, work);
            await HandRun(url, key, b, 10_000, work);
        }
        await NaiveRun(url, key, 500, work);

        for (var round = 0; round < rounds; round++)
        {
            foreach (var b in batches)
            {
                // Alternate which goes first, so neither always meets the server right after the other's burst.
                var clientFirst = round % 2 == 0;
                for (var k = 0; k < 2; k++)
                {
                    if ((k == 0) == clientFirst)
                    {
                        Add($"client, BatchSize {b}", await ClientRun(url, key, Path.Combine(dir, $"run-{runId++}.db"), b, n, work), n);
                    }
                    else
                    {
                        Add($"hand-written, batches of {b}", await HandRun(url, key, b, n, work), n);
                    }
                }
            }
            Add("naive, one POST per event", await NaiveRun(url, key, naiveN, work), naiveN);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| run ({n:N0} events; naive {naiveN:N0}; median of {rounds}) | seconds | events/s | rounds events/s | load process CPU-µs/event | Track ns/call | errors |"));
        Console.WriteLine("|---|---:|---:|---|---:|---:|---:|");
        foreach (var (name, runs) in results)
        {
            var events = name.StartsWith("naive", StringComparison.Ordinal) ? naiveN : n;
            var seconds = Median(runs.Select(r => r.Seconds));
            var track = runs[0].TrackNsPerCall > 0 ? Median(runs.Select(r => r.TrackNsPerCall)).ToString("0", CultureInfo.InvariantCulture) : "";
            var all = string.Join(" / ", runs.Select(r => (events / r.Seconds).ToString("N0", CultureInfo.InvariantCulture)));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {seconds:0.000} | {events / seconds:N0} | {all} | {Median(runs.Select(r => r.CpuSeconds)) * 1e6 / events:0.0} | {track} | {runs.Count(r => r.Error is not null)} |"));
        }
        return results.Values.SelectMany(r => r).Any(r => r.Error is not null) ? 1 : 0;
    }

    public static async Task<int> Outage(Options o)
    {
        var url = new Uri(o.Url);
        var key = o.Require("key");
        var n = o.Int("events", 100_000);
        var batch = o.Int("batch", 200);
        var dir = o.Get("buffer-dir") ?? Path.Combine(Path.GetTempPath(), $"tally-client-load-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        var work = Workload.From(o);
        using var probe = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(2) };
        if (await Ready(probe))
        {
            Console.Error.WriteLine($"client-outage: something answers on {url}; it must be down at the start");
            return 2;
        }
        await using var services = Services(url, key, Path.Combine(dir, $"outage-{Environment.ProcessId}.db"), batch, o =>
        {
            // A refused connection is final at once (no in-request retries), and the buffer is tried again soon.
            o.MaxRetries = 0;
            o.RetryDelay = TimeSpan.FromMilliseconds(100);
            o.MaxResendDelay = TimeSpan.FromMilliseconds(200);
        });
        var client = services.GetRequiredService<TallyClient>();
        var cpu0 = Cpu();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
        {
            client.Track(work.User(i), work.App(i), "select");
        }
        var tracked = clock.Elapsed;
        await client.FlushAsync();
        var buffered = clock.Elapsed;
        var cpuBuffered = Cpu() - cpu0;
        var status = client.Status;
        if (status.Buffered != n || status.Dropped != 0)
        {
            Console.Error.WriteLine($"client-outage: expected {n} buffered, status {status}");
            return 1;
        }
        if (o.Get("ready-file") is { } ready)
        {
            await File.WriteAllTextAsync(ready, "buffered\n");
        }
        while (!await Ready(probe))
        {
            await Task.Delay(20);
        }
        var up = clock.Elapsed;
        var cpuUp = Cpu();
        TimeSpan? firstSent = null;
        while (true)
        {
            status = client.Status;
            if (firstSent is null && status.Sent > 0)
            {
                firstSent = clock.Elapsed;
            }
            if (status.Buffered == 0)
            {
                break;
            }
            if (clock.Elapsed - up > TimeSpan.FromMinutes(5))
            {
                Console.Error.WriteLine($"client-outage: drain did not finish, status {status}");
                return 1;
            }
            await Task.Delay(10);
        }
        var drained = clock.Elapsed;
        var cpuDrain = Cpu() - cpuUp;
        status = client.Status;
        var hand = await HandRun(url, key, batch, n, work);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {n:N0} events, BatchSize {batch} | {tracked.TotalMilliseconds * 1e6 / n:0} | {n / buffered.TotalSeconds:N0} | {n / (drained - up).TotalSeconds:N0} | {n / (drained - (firstSent ?? up)).TotalSeconds:N0} | {n / hand.Seconds:N0} | {(drained - (firstSent ?? up)).TotalSeconds / hand.Seconds:0.00} | {cpuBuffered.TotalMilliseconds * 1e3 / n:0.0} / {cpuDrain.TotalMilliseconds * 1e3 / n:0.0} / {hand.CpuSeconds * 1e6 / n:0.0} | sent {status.Sent:N0}, duplicates {status.Duplicates}, dropped {status.Dropped}{(hand.Error is null ? "" : ", hand ERROR " + hand.Error)} |"));
        return status.Sent == n && hand.Error is null ? 0 : 1;
    }

    private static async Task<bool> Ready(HttpClient probe)
    {
        try
        {
            using var response = await probe.GetAsync("health/ready");
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException)
        {
            return false;
        }
    }

    private static ServiceProvider Services(Uri url, string key, string bufferPath, int batch, Action<TallyClientOptions>? tweak = null) =>
        new ServiceCollection().AddLogging().AddTallyClient(o =>
        {
            o.BaseAddress = url;
            o.ApiKey = key;
            o.BufferPath = bufferPath;
            o.BatchSize = batch;
            o.ClientName = "load";
            tweak?.Invoke(o);
        }).BuildServiceProvider();

    /// <summary>Track <paramref name="n"/> events, then FlushAsync; the client is built (DI, buffer file opened) before the clock starts.</summary>
    private static async Task<Run> ClientRun(Uri url, string key, string bufferPath, int batch, int n, Workload work)
    {
        await using (var services = Services(url, key, bufferPath, batch))
        {
            var client = services.GetRequiredService<TallyClient>();
            var cpu = Cpu();
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                client.Track(work.User(i), work.App(i), "select");
            }
            var tracked = clock.Elapsed;
            await client.FlushAsync();
            var seconds = clock.Elapsed.TotalSeconds;
            var status = client.Status;
            var error = status.Sent != n || status.Dropped != 0 || status.Buffered != 0 || status.Duplicates != 0 ? status.ToString() : null;
            return new Run(seconds, tracked.TotalMilliseconds * 1e6 / n, error, (Cpu() - cpu).TotalSeconds);
        }
    }

    private static HttpClient Plain(Uri url, string key)
    {
        var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    /// <summary>What a careful hand-written integration does: the same events (fresh GUID id, client time), batches of <paramref name="batch"/>, one request after another.</summary>
    private static async Task<Run> HandRun(Uri url, string key, int batch, int n, Workload work)
    {
        using var http = Plain(url, key);
        var cpu = Cpu();
        var clock = Stopwatch.StartNew();
        var events = new List<EventDto>(batch);
        for (var start = 0; start < n; start += batch)
        {
            events.Clear();
            for (var i = start; i < Math.Min(n, start + batch); i++)
            {
                events.Add(new EventDto(Guid.NewGuid().ToString("N"), work.User(i), null, work.App(i), "select",
                    TimeProvider.System.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)));
            }
            using var response = await http.PostAsJsonAsync("api/v1/events", events, Wire);
            if (!response.IsSuccessStatusCode)
            {
                return new Run(clock.Elapsed.TotalSeconds, 0, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
            _ = await response.Content.ReadFromJsonAsync<List<EventResult>>(Wire);
        }
        return new Run(clock.Elapsed.TotalSeconds, 0, null, (Cpu() - cpu).TotalSeconds);
    }

    /// <summary>The naive integration: one POST per event, waiting for each answer.</summary>
    private static async Task<Run> NaiveRun(Uri url, string key, int n, Workload work)
    {
        using var http = Plain(url, key);
        var cpu = Cpu();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
        {
            EventDto[] one = [new(Guid.NewGuid().ToString("N"), work.User(i), null, work.App(i), "select", TimeProvider.System.GetUtcNow().ToString("O", CultureInfo.InvariantCulture))];
            using var response = await http.PostAsJsonAsync("api/v1/events", one, Wire);
            if (!response.IsSuccessStatusCode)
            {
                return new Run(clock.Elapsed.TotalSeconds, 0, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
            _ = await response.Content.ReadFromJsonAsync<List<EventResult>>(Wire);
        }
        return new Run(clock.Elapsed.TotalSeconds, 0, null, (Cpu() - cpu).TotalSeconds);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
