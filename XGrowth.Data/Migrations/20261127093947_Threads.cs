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

            // Every existing post becomes its own first part, with the X id and time it was published with. The live
            // updates' trigger watched the post's text: a post's parts are now its news too, and the text column goes.
            migrationBuilder.Sql("""
                INSERT INTO post_parts (post_id, position, text, x_post_id, published_at)
                SELECT id, 0, text, x_post_id, published_at FROM scheduled_posts;

                DROP TRIGGER scheduled_posts_user_event ON scheduled_posts;
                CREATE OR REPLACE FUNCTION scheduled_posts_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'UPDATE' AND (OLD.scheduled_at, OLD.status, OLD.x_post_id, OLD.published_at, OLD.error, OLD.queued)
                        IS NOT DISTINCT FROM (NEW.scheduled_at, NEW.status, NEW.x_post_id, NEW.published_at, NEW.error, NEW.queued) THEN
                        RETURN NULL;
                    END IF;
                    PERFORM record_user_event((SELECT user_id FROM x_accounts WHERE id = NEW.x_account_id), 'post.updated', NEW.id);
                    RETURN NULL;
                END $$;
                CREATE TRIGGER scheduled_posts_user_event
                    AFTER INSERT OR UPDATE OF scheduled_at, status, x_post_id, published_at, error, queued ON scheduled_posts
                    FOR EACH ROW EXECUTE FUNCTION scheduled_posts_record_event();

                -- A part's text and X id are in its post's JSON. Not on INSERT: a new post is news already (its own row's
                -- trigger), and a second event would arrive as a stale copy. (An edit that only appends parts, leaving the
                -- others as they were, sends no event: a known gap.)
                CREATE FUNCTION post_parts_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE
                    part post_parts := COALESCE(NEW, OLD);
                BEGIN
                    IF TG_OP = 'UPDATE' AND (OLD.text, OLD.x_post_id) IS NOT DISTINCT FROM (NEW.text, NEW.x_post_id) THEN
                        RETURN NULL;
                    END IF;
                    PERFORM record_user_event(
                        (SELECT a.user_id FROM scheduled_posts AS p JOIN x_accounts AS a ON a.id = p.x_account_id WHERE p.id = part.post_id),
                        'post.updated', part.post_id);
                    RETURN NULL;
                END $$;
                CREATE TRIGGER post_parts_user_event AFTER UPDATE OF text, x_post_id OR DELETE ON post_parts
                    FOR EACH ROW EXECUTE FUNCTION post_parts_record_event();
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

            // Back to one text per post: a thread keeps its first part (the others cannot be expressed any more); the
            // live updates' trigger watches the text again.
            migrationBuilder.Sql("""
                UPDATE scheduled_posts AS p SET text = pp.text FROM post_parts AS pp WHERE pp.post_id = p.id AND pp.position = 0;

                DROP TRIGGER post_parts_user_event ON post_parts;
                DROP FUNCTION post_parts_record_event();
                DROP TRIGGER scheduled_posts_user_event ON scheduled_posts;
                CREATE OR REPLACE FUNCTION scheduled_posts_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'UPDATE' AND (OLD.text, OLD.scheduled_at, OLD.status, OLD.x_post_id, OLD.published_at, OLD.error, OLD.queued)
                        IS NOT DISTINCT FROM (NEW.text, NEW.scheduled_at, NEW.status, NEW.x_post_id, NEW.published_at, NEW.error, NEW.queued) THEN
                        RETURN NULL;
                    END IF;
                    PERFORM record_user_event((SELECT user_id FROM x_accounts WHERE id = NEW.x_account_id), 'post.updated', NEW.id);
                    RETURN NULL;
                END $$;
                CREATE TRIGGER scheduled_posts_user_event
                    AFTER INSERT OR UPDATE OF text, scheduled_at, status, x_post_id, published_at, error, queued ON scheduled_posts
                    FOR EACH ROW EXECUTE FUNCTION scheduled_posts_record_event();
                """);

            migrationBuilder.DropTable(
                name: "post_parts");
        }
    }
}
