namespace Tally.Client.Tests;

/// <summary>The server killed with SIGKILL while a client streams events to it, then started again on the same ledger.</summary>
public sealed class KillTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tally-client-kill-").FullName;

    [Fact]
    public async Task AServerKilledMidStream_AndRestarted_MetersEveryEventOnce_AndThePoolIsTheSumOfTheUnits()
    {
        await using var tally = await RealTally.StartAsync();
        await tally.InstallLicenseAsync(RealTally.Terms(100, 1000));
        await using var client = ClientHost.Start(tally.Address, tally.Tenant.Ingest, Path.Combine(_dir, "buffer.db"), o => o.BatchSize = 25);
        string[] actions = [TallyActions.OpenApp, TallyActions.Select, TallyActions.Navigate, TallyActions.Select];
        const int Total = 800;
        var producer = Task.Run(async () =>
        {
            for (var i = 0; i < Total; i++)
            {
                client.Tally.Track($"u{i % 20:00}", $"app{i % 3}", actions[i % actions.Length], $"d{i % 2}");
                if (i % 10 == 9)
                {
                    await Task.Delay(25);
                }
            }
        });
        await Eventually.Until(() => client.Tally.Status.Sent >= 200, "the first events to reach the server");
        tally.Kill9();
        await Eventually.Until(() => client.Tally.Status.Buffered > 0, "the client to buffer while the server is dead");
        await tally.RestartAsync();
        await producer;
        await client.DrainAsync();

        // Every tracked event recorded exactly once (a duplicate is never recorded), whatever was in flight at the kill.
        Assert.Equal(Total, await tally.EventsRecordedAsync());
        Assert.Equal(Total, client.Tally.Status.Sent);
        var users = await tally.UsagePerUserAsync();
        Assert.Equal(20, users.Count);
        Assert.All(users.Values, u => Assert.Equal(u.Units * 6, u.Minutes));
        Assert.Equal(users.Values.Sum(u => u.Minutes), await tally.ConsumedMinutesAsync());
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
