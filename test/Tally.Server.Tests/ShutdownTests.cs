using System.Net;
using System.Net.Http.Json;

namespace Tally.Server.Tests;

/// <summary>A graceful stop drains the tenant writers: every event the server acknowledged is in the ledger afterwards.</summary>
public class ShutdownTests
{
    [Fact]
    public async Task Stop_WithRequestsInFlight_EveryAcknowledgedEventSurvives()
    {
        var server = await TestServer.StartAsync();
        try
        {
            var acme = await server.TenantAsync("acme");
            using var ingest = server.Client(acme.Ingest);
            var batches = Enumerable.Range(0, 100)
                .Select(b => Enumerable.Range(0, 200).Select(i => new { id = $"b{b}-e{i}", user = $"u{(b * 200) + i}", app = "sales", action = "open-app" }).ToArray())
                .ToArray();
            var stopping = 0;
            var answeredDuringStop = 0;
            var acknowledgedSoFar = 0;
            var sends = batches.Select(async batch =>
            {
                try
                {
                    using var response = await ingest.PostAsJsonAsync("/api/v1/events", batch);
                    if (Volatile.Read(ref stopping) == 1)
                    {
                        Interlocked.Increment(ref answeredDuringStop);
                    }
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref acknowledgedSoFar);
                    }
                    return response.StatusCode == HttpStatusCode.OK ? batch : null;
                }
                catch (HttpRequestException)
                {
                    return null; // the listener closed before this request was taken: not acknowledged
                }
            }).ToList();
            // The load is really flowing (the writer has committed a batch) before the stop; the rest are in flight.
            await Eventually.Until(() => Volatile.Read(ref acknowledgedSoFar) > 0, "the first batch of events acknowledged");
            Volatile.Write(ref stopping, 1);
            server = await server.RestartAsync();
            var acknowledged = (await Task.WhenAll(sends)).Where(b => b is not null).Select(b => b!).ToList();
            // The stop really overlapped the load: some answers came while the server was stopping.
            Assert.True(answeredDuringStop > 0, "no request was in flight when the server stopped");
            Assert.NotEmpty(acknowledged);

            using var again = server.Client(acme.Ingest);
            foreach (var batch in acknowledged)
            {
                var results = await again.SendEventsAsync(batch);
                Assert.All(results.EnumerateArray(), r => Assert.Equal("duplicate", r.Decision()));
            }
            using var read = server.Client(acme.Read);
            var summary = await (await read.GetAsync("/api/v1/usage/summary")).Json();
            // Every acknowledged first engagement was charged once; nothing was recorded twice.
            Assert.True(summary.GetProperty("units").GetInt64() >= acknowledged.Count * 200L);
            Assert.Equal(summary.GetProperty("units").GetInt64() * 6, summary.GetProperty("consumedMinutes").GetInt64());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
