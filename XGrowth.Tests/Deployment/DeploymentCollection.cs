namespace XGrowth.Tests.Deployment;

/// <summary>
/// The deployment tests start many short-lived API hosts (replicas, one per proxy or certificate setting), each with its
/// own connection pool: they run on their own, after the parallel classes, so that they never add to their connections
/// on the test PostgreSQL.
/// </summary>
[CollectionDefinition(nameof(DeploymentCollection), DisableParallelization = true)]
public sealed class DeploymentCollection;
