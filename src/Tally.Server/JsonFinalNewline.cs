using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Tally.Server;

/// <summary>
/// Ends every streamed JSON answer with a newline, as text files and command-line tools expect (curl's output then
/// does not run into the prompt; `jq -s`, `wc -l` and line-oriented logs read it as a line). JSON allows trailing
/// whitespace, so no client is affected. Answers that declared their length are left as they are.
/// </summary>
public static class JsonFinalNewline
{
    private static readonly ReadOnlyMemory<byte> Newline = "\n"u8.ToArray();

    public static IApplicationBuilder UseJsonFinalNewline(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        await next(context);
        var response = context.Response;
        if (response.HasStarted
            && response.ContentLength is null
            && !HttpMethods.IsHead(context.Request.Method)
            && response.StatusCode is not (StatusCodes.Status204NoContent or StatusCodes.Status304NotModified)
            && IsJson(response.ContentType))
        {
            await response.Body.WriteAsync(Newline, context.RequestAborted);
        }
    });

    private static bool IsJson(string? contentType) =>
        contentType is { } type
        && (type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            || type.StartsWith("application/problem+json", StringComparison.OrdinalIgnoreCase));
}
