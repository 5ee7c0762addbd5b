using Microsoft.AspNetCore.Http.HttpResults;

namespace XGrowth.Api.Http;

/// <summary>The ProblemDetails answers the endpoints share, worded the same everywhere.</summary>
public static class ApiProblems
{
    /// <summary>A missing resource, or one that belongs to another user: the two are indistinguishable on purpose.</summary>
    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(title: "Not found", detail: detail, statusCode: StatusCodes.Status404NotFound);

    public static ProblemHttpResult Conflict(string title, string detail) =>
        TypedResults.Problem(title: title, detail: detail, statusCode: StatusCodes.Status409Conflict);
}
