using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <inheritdoc />
    public partial class Media : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "scopes",
                table: "x_accounts",
                type: "text",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "media",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    user_id = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    type = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    content_type = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    bytes = table.Column<long>(type: "bigint", nullable: false),
                    width = table.Column<int>(type: "integer", nullable: false),
                    height = table.Column<int>(type: "integer", nullable: false),
                    alt_text = table.Column<string>(type: "text", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    content_removed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_media", x => x.id);
                    table.CheckConstraint("ck_media_alt_text", "char_length(alt_text) <= 1000");
                    table.ForeignKey(
                        name: "fk_media_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "media_contents",
                columns: table => new
                {
                    media_id = table.Column<Guid>(type: "uuid", nullable: false),
                    index = table.Column<int>(type: "integer", nullable: false),
                    data = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_media_contents", x => new { x.media_id, x.index });
                    table.ForeignKey(
                        name: "fk_media_contents_media_media_id",
                        column: x => x.media_id,
                        principalTable: "media",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "post_part_media",
                columns: table => new
                {
                    post_id = table.Column<Guid>(type: "uuid", nullable: false),
                    part_position = table.Column<int>(type: "integer", nullable: false),
                    position = table.Column<int>(type: "integer", nullable: false),
                    media_id = table.Column<Guid>(type: "uuid", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_post_part_media", x => new { x.post_id, x.part_position, x.position });
                    table.ForeignKey(
                        name: "fk_post_part_media_media_media_id",
                        column: x => x.media_id,
                        principalTable: "media",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "fk_post_part_media_post_parts_post_id_part_position",
                        columns: x => new { x.post_id, x.part_position },
                        principalTable: "post_parts",
                        principalColumns: new[] { "post_id", "position" },
                        onDelete: ReferentialAction.Cascade);
                });

            // JPEG, PNG, WebP and GIF are compressed already: PostgreSQL's own compression would cost CPU for nothing.
            migrationBuilder.Sql("ALTER TABLE media_contents ALTER COLUMN data SET STORAGE EXTERNAL;");

            migrationBuilder.CreateIndex(
                name: "ix_media_user_id_created_at",
                table: "media",
                columns: new[] { "user_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_post_part_media_media_id",
                table: "post_part_media",
                column: "media_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "media_contents");

            migrationBuilder.DropTable(
                name: "post_part_media");

            migrationBuilder.DropTable(
                name: "media");

            migrationBuilder.DropColumn(
                name: "scopes",
                table: "x_accounts");
        }
    }
}
