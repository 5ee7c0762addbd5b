using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XGrowth.Data.Migrations
{
    /// <summary>
    /// Live updates for media: a post's JSON shows its parts' media (id, type, alt text), so a change of a part's media,
    /// or of the alt text of media a post uses, is news of that post (<c>post.updated</c>), like a change of its text.
    /// </summary>
    public partial class MediaEvents : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                -- One event per post and transaction is enough (every event carries the post as it is when delivered):
                -- a new post is news already (its own row's trigger), and an edit that changes several links, or a text
                -- too, need not say so more than once. The user's events of the last minutes are few (they are purged
                -- after 10 minutes), and found by the (user_id, id) index.
                CREATE FUNCTION post_part_media_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE
                    link post_part_media := COALESCE(NEW, OLD);
                    owner text;
                BEGIN
                    IF TG_OP = 'UPDATE' AND OLD.media_id IS NOT DISTINCT FROM NEW.media_id THEN
                        RETURN NULL;
                    END IF;
                    SELECT a.user_id INTO owner FROM scheduled_posts AS p JOIN x_accounts AS a ON a.id = p.x_account_id WHERE p.id = link.post_id;
                    IF owner IS NULL OR EXISTS (
                        SELECT 1 FROM user_events
                        WHERE user_id = owner AND type = 'post.updated' AND entity_id = link.post_id AND tx = pg_current_xact_id()) THEN
                        RETURN NULL;
                    END IF;
                    PERFORM record_user_event(owner, 'post.updated', link.post_id);
                    RETURN NULL;
                END $$;
                CREATE TRIGGER post_part_media_user_event AFTER INSERT OR UPDATE OF media_id OR DELETE ON post_part_media
                    FOR EACH ROW EXECUTE FUNCTION post_part_media_record_event();

                -- The alt text is in the JSON of every post that uses the media.
                CREATE FUNCTION media_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF OLD.alt_text IS NOT DISTINCT FROM NEW.alt_text THEN
                        RETURN NULL;
                    END IF;
                    PERFORM record_user_event(NEW.user_id, 'post.updated', used.post_id)
                    FROM (SELECT DISTINCT post_id FROM post_part_media WHERE media_id = NEW.id) AS used;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER media_user_event AFTER UPDATE OF alt_text ON media
                    FOR EACH ROW EXECUTE FUNCTION media_record_event();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER media_user_event ON media;
                DROP FUNCTION media_record_event();
                DROP TRIGGER post_part_media_user_event ON post_part_media;
                DROP FUNCTION post_part_media_record_event();
                """);
        }
    }
}
