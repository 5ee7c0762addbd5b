using System.ComponentModel.DataAnnotations;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace XGrowth.Api.OpenApi;

/// <summary>
/// The rules that make the OpenAPI document say what the API does, so that a client generated from it (openapi-typescript,
/// orval, NSwag) accepts the calls the README shows and types the answers exactly. Each rule is one the framework's
/// generator cannot know from the code alone.
/// </summary>
public static class ApiContract
{
    public const string ProblemJson = "application/problem+json";

    public static OpenApiOptions AddContractRules(this OpenApiOptions options)
    {
        options.AddSchemaTransformer(RequestBodiesNeverTakeNull);
        options.AddSchemaTransformer(FormatsFromDataType);
        options.AddSchemaTransformer(EnumsAreStrings);
        options.AddSchemaTransformer(ProblemsCarryTheirCode);
        options.AddDocumentTransformer(EveryBodyCanBeRefused);
        return options;
    }

    /// <summary>
    /// Request bodies (the records that refuse unknown members) have nullable properties only so that the API itself
    /// can say which field is missing; null is never a value to send. The document offers a field's type alone, and
    /// requires exactly the constructor parameters without a default (an optional field has <c>= null</c>).
    /// </summary>
    private static Task RequestBodiesNeverTakeNull(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken _)
    {
        var type = context.JsonTypeInfo.Type;
        if (context.JsonPropertyInfo is null && schema.Properties is not null
            && type.GetCustomAttribute<JsonUnmappedMemberHandlingAttribute>()?.UnmappedMemberHandling == JsonUnmappedMemberHandling.Disallow)
        {
            var nullClears = type.GetProperties().Where(p => p.GetCustomAttribute<NullClearsAttribute>() is not null)
                .Select(p => JsonNamingPolicyName(p.Name)).ToHashSet();
            foreach (var (name, property) in schema.Properties.Select(p => (p.Key, p.Value as OpenApiSchema)))
            {
                if (property is not null && !nullClears.Contains(name) && property.Type is { } t && t.HasFlag(JsonSchemaType.Null) && t != JsonSchemaType.Null)
                {
                    property.Type = t & ~JsonSchemaType.Null;
                }
            }

            var optional = type.GetConstructors().SelectMany(c => c.GetParameters()).Where(p => p.HasDefaultValue)
                .Select(p => JsonNamingPolicyName(p.Name!)).ToHashSet();
            schema.Required?.ExceptWith(optional);
        }

        return Task.CompletedTask;
    }

    private static string JsonNamingPolicyName(string name) => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(name);

    /// <summary>
    /// Times that the API reads from text itself (to answer with a precise error, and to insist on an offset) are
    /// strings in C#; <c>[DataType(DataType.DateTime)]</c> gives them the format a client expects.
    /// </summary>
    private static Task FormatsFromDataType(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken _)
    {
        var dataType = context.JsonPropertyInfo?.AttributeProvider?.GetCustomAttributes(typeof(DataTypeAttribute), inherit: true)
            .OfType<DataTypeAttribute>().FirstOrDefault()?.DataType;
        schema.Format = dataType switch
        {
            DataType.DateTime => "date-time",
            DataType.Date => "date",
            DataType.Time => "time",
            _ => schema.Format,
        };
        return Task.CompletedTask;
    }

    /// <summary>Enums travel as snake_case strings (the API's JSON options); the document says they are strings.</summary>
    private static Task EnumsAreStrings(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken _)
    {
        if (schema.Enum is { Count: > 0 } && schema.Type is null)
        {
            schema.Type = JsonSchemaType.String;
        }

        return Task.CompletedTask;
    }

    /// <summary>Refusals carry a machine-readable <c>code</c> beside the human title; the document names it.</summary>
    private static Task ProblemsCarryTheirCode(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken _)
    {
        if (context.JsonPropertyInfo is null && typeof(ProblemDetails).IsAssignableFrom(context.JsonTypeInfo.Type))
        {
            schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
            schema.Properties["code"] = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Description = "Present on refusals a client may act on: limit_reached, too_many_connects, too_many_streams, invalid_state, access_denied, x_error, token_exchange_failed, not_multipart, unsupported_media_type, media_too_large, invalid_media, invalid_dimensions, unknown_media, media_in_use, media_content_removed.",
            };
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Every frontend operation with a JSON body can be refused before its handler runs: malformed JSON or a wrong type
    /// (400), a body over 64 KiB (413), another content type (415). The framework answers those (as ProblemDetails,
    /// see BadRequestExceptionHandler) without the endpoint declaring them, so they are added here for all of them.
    /// (The webhook receiver reads its body itself, to check the signature over the exact bytes, and declares its own.)
    /// </summary>
    private static Task EveryBodyCanBeRefused(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken _)
    {
        foreach (var operation in (document.Paths ?? []).Values.SelectMany(item => item.Operations?.Values.AsEnumerable() ?? []))
        {
            if (operation.RequestBody?.Content?.ContainsKey("application/json") != true || operation.Security is not { Count: > 0 })
            {
                continue;
            }

            operation.Responses ??= [];
            Add(operation, document, StatusCodes.Status400BadRequest, "The body is not valid JSON, has a wrong type or an unknown field, or fails validation.");
            Add(operation, document, StatusCodes.Status413PayloadTooLarge, "The body is larger than 64 KiB.");
            Add(operation, document, StatusCodes.Status415UnsupportedMediaType, "The body is not application/json.");
        }

        return Task.CompletedTask;
    }

    private static void Add(OpenApiOperation operation, OpenApiDocument document, int status, string description)
    {
        var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (operation.Responses!.TryGetValue(key, out var existing))
        {
            if (existing is OpenApiResponse response && string.IsNullOrEmpty(response.Description))
            {
                response.Description = description;
            }

            return;
        }

        operation.Responses[key] = new OpenApiResponse
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                [ProblemJson] = new() { Schema = new OpenApiSchemaReference(nameof(ProblemDetails), document) },
            },
        };
    }

    /// <summary>Gives an operation's JSON request body an example, which the reference (Scalar) sends as it is.</summary>
    public static TBuilder WithRequestExample<TBuilder>(this TBuilder builder, JsonNode example) where TBuilder : IEndpointConventionBuilder =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            if (operation.RequestBody?.Content?.TryGetValue("application/json", out var media) == true)
            {
                media.Example = example.DeepClone();
            }

            return Task.CompletedTask;
        });

    /// <summary>
    /// A query parameter read as text (so that a wrong value gets a precise 400) whose values are those of
    /// <typeparamref name="TEnum"/>: the document lists them, so a generated client types it as their union.
    /// </summary>
    public static RouteHandlerBuilder WithQueryEnum<TEnum>(this RouteHandlerBuilder builder, string name) where TEnum : struct, Enum =>
        builder.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            if (operation.Parameters?.OfType<OpenApiParameter>().FirstOrDefault(p => p.Name == name) is { } parameter)
            {
                var schema = await context.GetOrCreateSchemaAsync(typeof(TEnum), null, cancellationToken);
                schema.Type = JsonSchemaType.String;
                parameter.Schema = schema;
            }
        });

    /// <summary>
    /// A query parameter read as text whose only accepted values are <paramref name="values"/> (not the names of an enum,
    /// e.g. analytics' <c>sort=engagementRate</c>): the document lists them, so a generated client types it as their union.
    /// </summary>
    public static RouteHandlerBuilder WithQueryValues(this RouteHandlerBuilder builder, string name, IReadOnlyList<string> values) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            if (operation.Parameters?.OfType<OpenApiParameter>().FirstOrDefault(p => p.Name == name) is { } parameter)
            {
                parameter.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. values.Select(v => (JsonNode)JsonValue.Create(v))] };
            }

            return Task.CompletedTask;
        });

    /// <summary>
    /// Query parameters the handler insists on, though they bind as nullable so that their absence gets the API's own
    /// message ("from is required") rather than the framework's: the document marks them required.
    /// </summary>
    public static RouteHandlerBuilder WithRequiredQuery(this RouteHandlerBuilder builder, params string[] names) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
            {
                if (names.Contains(parameter.Name))
                {
                    parameter.Required = true;
                }
            }

            return Task.CompletedTask;
        });
}

/// <summary>A request field for which null is a value to send (it clears what is stored), not only "left out".</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class NullClearsAttribute : Attribute;
