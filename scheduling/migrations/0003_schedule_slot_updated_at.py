from django.db import migrations, models

# Booking moves a slot's counters with queryset UPDATEs (F() expressions), which skip auto_now.
# A row trigger stamps `updated_at` on every UPDATE that changes the row, whoever makes it, so
# the open availability feed (interop) can answer `_since` honestly. An UPDATE that sets
# `updated_at` itself (a model save, a data fix) keeps its value.
TABLES = ("scheduling_schedule", "scheduling_slot")

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION scheduling_touch_updated_at() RETURNS trigger AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FUNCTION)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_touch BEFORE UPDATE ON {table} FOR EACH ROW "
                "WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION scheduling_touch_updated_at();"
            )
    elif vendor == "sqlite":
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_touch AFTER UPDATE ON {table} FOR EACH ROW "
                "WHEN NEW.updated_at IS OLD.updated_at "
                f"BEGIN UPDATE {table} SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id; END;"
            )


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_touch ON {table};")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_touch;")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS scheduling_touch_updated_at();")


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0002_slot_first_number_slot_is_open_slot_regular_places_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="schedule",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, db_index=True, verbose_name="更新时间"),
        ),
        migrations.AddField(
            model_name="slot",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, db_index=True, verbose_name="更新时间"),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
