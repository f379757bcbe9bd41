using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text;

/// <summary>
/// How long a node's tenants go unanswered when it dies (SIGKILL) or hangs with its connections open (SIGSTOP).
/// Every tenant gets an access request every few milliseconds through the surviving fronts, each request on its own
/// (never waiting for the one before: a request stuck on a hung owner must not hold back the next one). For each
/// victim (a tenant the signalled node owned) the time from the signal to the first 2xx answer to a request sent
/// after it is the outage that tenant saw.
/// </summary>
internal static class Failover
{
    public static async Task<int> Run(Options o)
    {
        var keys = o.Keys();
        var victims = o.Require("victims").Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture) - 1).ToArray();
        var pid = int.Parse(o.Require("pid"), CultureInfo.InvariantCulture);
        var signal = (o.Get("signal") ?? "KILL").ToUpperInvariant();
        var every = TimeSpan.FromMilliseconds(o.Int("every", 50));
        var limit = TimeSpan.FromSeconds(o.Int("limit", 60));
        var run = o.Get("label") ?? $"failover {signal}";
        // No pool limit: requests stuck on a hung node must not queue the next ones behind them in the client.
        var clients = o.Urls.Select(u => LoadClient.For(u, int.MaxValue, null)).ToArray();
        foreach (var client in clients)
        {
            client.Timeout = limit;
        }

        var clock = Stopwatch.StartNew();
        long signalledTicks = long.MaxValue; // read by every probe while the main flow sets it
        var firstOk = new TimeSpan?[keys.Length];
        var answeredBefore = new bool[keys.Length];
        long victimFailures = 0, otherFailures = 0, sequence = 0;
        var isVictim = new bool[keys.Length];
        foreach (var v in victims)
        {
            isVictim[v] = true;
        }
        using var stop = new CancellationTokenSource();
        var inFlight = new List<Task>();

        async Task Probe(int tenant)
        {
            var n = Interlocked.Increment(ref sequence);
            var sent = clock.Elapsed;
            var after = sent.Ticks >= Volatile.Read(ref signalledTicks);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/access")
            {
                Content = new StringContent($"{{\"id\":\"f{n}\",\"user\":\"user-{n % 100}\",\"app\":\"app\",\"action\":\"select\"}}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", keys[tenant]);
            bool ok;
            try
            {
                using var response = await clients[n % clients.Length].SendAsync(request, stop.Token);
                ok = response.IsSuccessStatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                ok = false;
            }
            var answered = clock.Elapsed;
            if (!after)
            {
                answeredBefore[tenant] |= ok;
                return;
            }
            if (ok)
            {
                lock (firstOk)
                {
                    if (firstOk[tenant] is not { } first || answered < first)
                    {
                        firstOk[tenant] = answered;
                    }
                }
            }
            else if (!stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref isVictim[tenant] ? ref victimFailures : ref otherFailures);
            }
        }

        bool AllRecovered()
        {
            lock (firstOk)
            {
                return victims.All(v => firstOk[v] is not null);
            }
        }

        // The steady load: a tick sends one request per tenant, until every victim has answered again or the limit.
        var before = TimeSpan.FromSeconds(o.Int("before", 3));
        var ticks = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                lock (inFlight)
                {
                    inFlight.RemoveAll(t => t.IsCompleted);
                    inFlight.AddRange(Enumerable.Range(0, keys.Length).Select(Probe));
                }
                await Task.Delay(every);
            }
        });
        await Task.Delay(before);
        var unanswered = Enumerable.Range(0, keys.Length).Where(t => !answeredBefore[t]).ToArray();
        var signalledAt = clock.Elapsed;
        Volatile.Write(ref signalledTicks, signalledAt.Ticks);
        if (Signals.Send(pid, signal) != 0)
        {
            Console.Error.WriteLine($"{run}: kill -{signal} {pid} failed ({Marshal.GetLastPInvokeError()})");
            return 1;
        }
        while (!AllRecovered() && clock.Elapsed - signalledAt < limit)
        {
            await Task.Delay(10);
        }
        // A second more: requests for the other tenants keep flowing, and their failures (if any) are counted.
        await Task.Delay(1000);
        await stop.CancelAsync();
        await ticks;
        Task[] pending;
        lock (inFlight)
        {
            pending = [.. inFlight];
        }
        await Task.WhenAll(pending);
        foreach (var client in clients)
        {
            client.Dispose();
        }
        Report(run, victims.Length, keys.Length, [.. victims.Select(v => firstOk[v] - signalledAt)], victimFailures, otherFailures);
        if (unanswered.Length > 0)
        {
            Console.Error.WriteLine($"{run}: {unanswered.Length} tenants had no 2xx before the signal (first: line {unanswered[0] + 1})");
        }
        return AllRecovered() ? 0 : 1;
    }

    public static void Header()
    {
        Console.WriteLine("| round | victims / tenants | median s to first 2xx | max s to first 2xx | failed answers to victims | failed answers to others |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
    }

    private static void Report(string run, int victims, int tenants, TimeSpan?[] outages, long victimFailures, long otherFailures)
    {
        var seconds = outages.Select(t => t?.TotalSeconds ?? double.PositiveInfinity).Order().ToArray();
        var median = seconds.Length == 0 ? double.NaN
            : seconds.Length % 2 == 1 ? seconds[seconds.Length / 2] : (seconds[(seconds.Length / 2) - 1] + seconds[seconds.Length / 2]) / 2;
        var max = seconds.Length == 0 ? double.NaN : seconds[^1];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {run} | {victims} / {tenants} | {median:0.00} | {max:0.00} | {victimFailures} | {otherFailures} |"));
    }
}

/// <summary>kill(2): SIGKILL, SIGSTOP or SIGCONT to a node, sent by this process so the time of the signal is known here.</summary>
internal static partial class Signals
{
    public static int Send(int pid, string signal) => Kill(pid, signal switch
    {
        "KILL" => 9,
        "STOP" => 19,
        "CONT" => 18,
        _ => throw new ArgumentException($"--signal {signal}: KILL, STOP or CONT"),
    });

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
