using System.Net;
using Tally.Contract;

namespace Tally.Client;

/// <summary>Tally answered a direct call with an error: the status and, when it sent one, its problem (RFC 9457).</summary>
public sealed class TallyApiException(HttpStatusCode status, ApiProblem? problem, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;

    public ApiProblem? Problem { get; } = problem;
}
