import django.utils.timezone
from django.db import migrations, models

# Any insert, change or delete of a vote inside a packed range drops that chunk (the next
# recompute packs it again); TRUNCATE drops them all. Votes are never changed by the app, so in
# practice only an admin's edit or delete, or an import, ever fires the DELETE.
TRIGGERS = """
CREATE FUNCTION ratings_votechunk_invalidate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        DELETE FROM ratings_votechunk;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM ratings_votechunk WHERE OLD.id > lo AND OLD.id <= hi;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        DELETE FROM ratings_votechunk WHERE NEW.id > lo AND NEW.id <= hi;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ratings_votechunk_rows AFTER INSERT OR UPDATE OR DELETE ON arena_vote
    FOR EACH ROW EXECUTE FUNCTION ratings_votechunk_invalidate();
CREATE TRIGGER ratings_votechunk_truncate AFTER TRUNCATE ON arena_vote
    FOR EACH STATEMENT EXECUTE FUNCTION ratings_votechunk_invalidate();
"""
DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS ratings_votechunk_truncate ON arena_vote;
DROP TRIGGER IF EXISTS ratings_votechunk_rows ON arena_vote;
DROP FUNCTION IF EXISTS ratings_votechunk_invalidate();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("arena", "0002_vote_rating_columns"),
        ("ratings", "0003_promptembedding"),
    ]

    operations = [
        migrations.CreateModel(
            name="VoteChunk",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("lo", models.BigIntegerField(help_text="Votes with an id above this one ...", unique=True)),
                ("hi", models.BigIntegerField(help_text="... up to and including this one.")),
                ("votes", models.PositiveIntegerField()),
                ("layout", models.CharField(help_text="The numpy dtype the data was packed with.", max_length=200)),
                ("data", models.BinaryField()),
                ("packed_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"ordering": ["lo"], "indexes": [models.Index(fields=["hi"], name="votechunk_hi")]},
        ),
        migrations.RunSQL(TRIGGERS, DROP_TRIGGERS),
    ]
