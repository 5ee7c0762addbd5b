using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <inheritdoc />
    public partial class PostCreationTrace : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "creation_trace_parent",
                table: "scheduled_posts",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "creation_trace_parent",
                table: "scheduled_posts");
        }
    }
}
