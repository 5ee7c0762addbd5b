using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <summary>
    /// The services' sessions run without JIT compilation: every statement here is short, and PostgreSQL compiles a plan
    /// whose cost estimate passes <c>jit_above_cost</c> before running it, for tens to hundreds of milliseconds of CPU each
    /// time. Right after a schedule change had placed a 10,000-post queue again, GET /queue's p99 was 170-190 ms in every
    /// run with JIT on, and 20-40 ms with it off (bench/QueueBench).
    /// </summary>
    /// <remarks>
    /// A default of the role the services connect as, in this database only (a role may set its own), so that it holds
    /// however they connect: straight, or through a pooler such as PgBouncer, which refuses a connection's own
    /// <c>options</c>. It applies to sessions that start after it; the API clears its connection pool after migrating.
    /// </remarks>
    public partial class JitOff : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DO $$ BEGIN EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I SET jit = off', current_database()); END $$;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DO $$ BEGIN EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I RESET jit', current_database()); END $$;");
        }
    }
}
