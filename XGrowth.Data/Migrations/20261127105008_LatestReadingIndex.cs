using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <summary>
    /// A post's latest metrics reading in one index lookup, without visiting the table: the analytics endpoints read it
    /// for every post they look at (XGrowth.Api/Analytics/AnalyticsApi.cs), a 90-day summary for thousands of posts.
    /// The cost is one more index entry per reading, and a post gets at most four readings in its life; keeping the
    /// latest numbers on scheduled_posts instead would save the lookup but rewrite the post's row (and its indexes)
    /// at every reading and spread the readings' logic over two tables. Plain SQL, not declared in the EF model
    /// (XGrowthDbContext); EF leaves alone the indexes it does not know.
    /// </summary>
    public partial class LatestReadingIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE INDEX ix_post_metric_readings_latest ON post_metric_readings (scheduled_post_id, read_at DESC)
                    INCLUDE (kind, impressions, likes, reposts, replies, quotes, bookmarks, url_clicks, profile_clicks);
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP INDEX ix_post_metric_readings_latest;");
        }
    }
}
