using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Tally.Client.Tests;

/// <summary>Options come from configuration; bad ones stop the start with every problem named.</summary>
public sealed class OptionsTests
{
    [Fact]
    public void Options_bind_from_the_Tally_section()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Tally:BaseAddress"] = "http://tally.example:5000/",
            ["Tally:ApiKey"] = "tally_x_y",
            ["Tally:BatchSize"] = "50",
            ["Tally:Linger"] = "00:00:01",
            ["Tally:OfflineAccess"] = "FailOpen",
            ["Tally:WhenBufferFull"] = "DropOldest",
            ["Tally:OfflineGraceMinutes"] = "30",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddTallyClient(configuration).BuildServiceProvider();
        var options = services.GetRequiredService<IOptions<TallyClientOptions>>().Value;
        Assert.Equal(new Uri("http://tally.example:5000/"), options.BaseAddress);
        Assert.Equal(50, options.BatchSize);
        Assert.Equal(TimeSpan.FromSeconds(1), options.Linger);
        Assert.Equal(OfflineAccessPolicy.FailOpen, options.OfflineAccess);
        Assert.Equal(BufferFullPolicy.DropOldest, options.WhenBufferFull);
        Assert.Equal(30, options.OfflineGraceMinutes);
        Assert.Empty(options.Problems());
    }

    [Fact]
    public void Bad_options_are_named_one_sentence_each()
    {
        var options = new TallyClientOptions { BaseAddress = new Uri("ftp://x/"), BatchSize = 0, MaxRetries = 11, BufferMaxEvents = 0 };
        var problems = options.Problems();
        Assert.Contains("Tally:BaseAddress must be an absolute http or https address, e.g. http://localhost:5000/.", problems);
        Assert.Contains(problems, p => p.StartsWith("Tally:ApiKey is required", StringComparison.Ordinal));
        Assert.Contains("Tally:BatchSize must be between 1 and 1000.", problems);
        Assert.Contains("Tally:MaxRetries must be between 0 and 10.", problems);
        Assert.Contains("Tally:BufferMaxEvents must be at least 1.", problems);
        using var services = new ServiceCollection().AddLogging().AddTallyClient(o => { o.BatchSize = 0; }).BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<TallyClient>());
        Assert.Contains("BatchSize", error.Message);
    }
}

/// <summary>The ids the client gives events: one random draw per client, unique across clients and calls.</summary>
public sealed class EventIdsTests
{
    [Fact]
    public void Ids_AreUniqueWithinAndAcrossClients_AndFitTheServersLimit()
    {
        var first = new EventIds();
        var second = new EventIds();
        var ids = Enumerable.Range(0, 10_000).Select(_ => first.Next()).Concat(Enumerable.Range(0, 10_000).Select(_ => second.Next())).ToList();
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(ids, id => Assert.InRange(id.Length, 34, 50));
        Assert.NotEqual(first.Next()[..32], second.Next()[..32]);
    }
}
