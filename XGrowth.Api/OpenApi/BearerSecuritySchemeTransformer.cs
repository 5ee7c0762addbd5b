using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace XGrowth.Api.OpenApi;

/// <summary>Describes the Clerk session token (bearer JWT) in the OpenAPI document and requires it on every protected operation.</summary>
internal sealed class BearerSecuritySchemeTransformer : IOpenApiDocumentTransformer
{
    public const string SchemeName = "Bearer";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "A Clerk session token (from the frontend's getToken()), or the __session cookie on the same origin.",
        };

        var protectedPaths = context.DescriptionGroups.SelectMany(group => group.Items)
            .Where(description => description.ActionDescriptor.EndpointMetadata.OfType<Microsoft.AspNetCore.Authorization.IAuthorizeData>().Any())
            .Select(description => "/" + description.RelativePath?.Split('?')[0].TrimEnd('/'))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var (path, item) in document.Paths)
        {
            if (!protectedPaths.Contains(path.TrimEnd('/')) || item.Operations is null)
            {
                continue;
            }

            foreach (var operation in item.Operations.Values)
            {
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, document)] = [] });
            }
        }

        return Task.CompletedTask;
    }
}
