using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace Tally.Client;

/// <summary><c>services.AddTallyClient(configuration)</c>: one <see cref="TallyClient"/> per process, sent off gracefully at shutdown.</summary>
public static class TallyClientServiceCollectionExtensions
{
    /// <summary>Registers the client with its options bound from the section <c>Tally</c> of <paramref name="configuration"/>.</summary>
    public static IServiceCollection AddTallyClient(this IServiceCollection services, IConfiguration configuration, Action<TallyClientOptions>? configure = null)
    {
        services.AddOptions<TallyClientOptions>().Bind(configuration.GetSection(TallyClientOptions.Section));
        return services.AddTallyClient(configure ?? (_ => { }));
    }

    /// <summary>Registers the client with options set in code.</summary>
    public static IServiceCollection AddTallyClient(this IServiceCollection services, Action<TallyClientOptions> configure)
    {
        services.AddOptions<TallyClientOptions>().Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TallyClientOptions>, TallyClientOptionsValidation>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(TallyClient.ApiClientName, Configure)
            .AddResilienceHandler("tally", (pipeline, context) =>
            {
                var options = context.ServiceProvider.GetRequiredService<IOptions<TallyClientOptions>>().Value;
                // Every request is safe to repeat: events carry ids (R10), reports and admin reads change nothing.
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = Math.Max(1, options.MaxRetries),
                    ShouldHandle = options.MaxRetries == 0 ? _ => PredicateResult.False() : new HttpRetryStrategyOptions().ShouldHandle,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = options.RetryDelay,
                    MaxDelay = options.MaxResendDelay,
                });
                pipeline.AddTimeout(TimeSpan.FromSeconds(30));
            });
        services.AddHttpClient(TallyClient.AccessClientName, Configure)
            .AddResilienceHandler("tally-access", (pipeline, context) =>
            {
                var options = context.ServiceProvider.GetRequiredService<IOptions<TallyClientOptions>>().Value;
                // A user is waiting: the whole check, one quick retry included, fits in AccessTimeout; then the offline policy answers.
                pipeline.AddTimeout(options.AccessTimeout);
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 1,
                    ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result?.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.BadGateway
                        || args.Outcome.Exception is HttpRequestException),
                    BackoffType = DelayBackoffType.Constant,
                    UseJitter = true,
                    Delay = TimeSpan.FromMilliseconds(100),
                });
            });
        services.TryAddSingleton(provider => new TallyClient(provider.GetRequiredService<IHttpClientFactory>(), provider.GetRequiredService<IOptions<TallyClientOptions>>(),
            provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<TallyClient>>()));
        services.AddHostedService<TallyClientLifetime>();
        return services;
    }

    private static void Configure(IServiceProvider provider, HttpClient http)
    {
        var options = provider.GetRequiredService<IOptions<TallyClientOptions>>().Value;
        var address = options.BaseAddress!;
        http.BaseAddress = address.AbsoluteUri.EndsWith('/') ? address : new Uri(address.AbsoluteUri + "/");
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", options.ApiKey);
        // The resilience pipeline's timeouts govern; HttpClient's own would cut retries short.
        http.Timeout = Timeout.InfiniteTimeSpan;
    }
}

/// <summary>Every problem with the options named, so a bad configuration stops the start with all of them.</summary>
internal sealed class TallyClientOptionsValidation : IValidateOptions<TallyClientOptions>
{
    public ValidateOptionsResult Validate(string? name, TallyClientOptions options) =>
        options.Problems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}

/// <summary>Starts the client with the host and, at shutdown, sends what is queued (or buffers it once the host's timeout is up).</summary>
internal sealed class TallyClientLifetime(TallyClient client) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => client.StopAsync(cancellationToken);
}
