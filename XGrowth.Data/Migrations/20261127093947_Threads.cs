using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <inheritdoc />
    public partial class Threads : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "post_parts",
                columns: table => new
                {
                    post_id = table.Column<Guid>(type: "uuid", nullable: false),
                    position = table.Column<int>(type: "integer", nullable: false),
                    text = table.Column<string>(type: "text", nullable: false),
                    x_post_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    published_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_post_parts", x => new { x.post_id, x.position });
                    table.ForeignKey(
                        name: "fk_post_parts_scheduled_posts_post_id",
                        column: x => x.post_id,
                        principalTable: "scheduled_posts",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            // Every existing post becomes its own first part, with the X id and time it was published with.
            migrationBuilder.Sql("""
                INSERT INTO post_parts (post_id, position, text, x_post_id, published_at)
                SELECT id, 0, text, x_post_id, published_at FROM scheduled_posts;
                """);

            migrationBuilder.DropColumn(
                name: "text",
                table: "scheduled_posts");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "text",
                table: "scheduled_posts",
                type: "text",
                nullable: false,
                defaultValue: "");

            // Back to one text per post: a thread keeps its first part (the others cannot be expressed any more).
            migrationBuilder.Sql("""
                UPDATE scheduled_posts AS p SET text = pp.text FROM post_parts AS pp WHERE pp.post_id = p.id AND pp.position = 0;
                """);

            migrationBuilder.DropTable(
                name: "post_parts");
        }
    }
}
