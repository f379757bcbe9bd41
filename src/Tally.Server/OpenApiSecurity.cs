using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Tally.Storage;

namespace Tally.Server;

/// <summary>
/// The bearer scheme in the OpenAPI document: <c>components.securitySchemes.bearer</c>, required by every operation whose
/// endpoint carries <see cref="ApiKeyRequired"/> (what <see cref="Auth.RequireRole"/> adds), so generated clients send
/// the key exactly where the server asks for it. Health, metrics and the dashboard's sign-in are anonymous and stay so.
/// </summary>
public static class OpenApiSecurity
{
    public const string SchemeName = "bearer";

    public static OpenApiOptions AddBearerSecurity(this OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key of the tenant (ingest, read or admin) or the bootstrap key: 'Authorization: Bearer KEY'.",
            };
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            if (context.Description.ActionDescriptor.EndpointMetadata.OfType<ApiKeyRequired>().FirstOrDefault() is { } required)
            {
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement
                {
                    [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [],
                });
                operation.Description ??= $"Needs a key with role {string.Join(" or ", required.Roles.Select(r => r.ToWire()))}.";
            }
            return Task.CompletedTask;
        });
        return options;
    }
}
