from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("hub", "0007_delivery_receipts")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Digest",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "account",
                    fields.ForeignKeyField(
                        "hub.Account", source_field="account_id", db_constraint=True, to_field="id",
                        related_name="digests", on_delete=OnDelete.CASCADE,
                    ),
                ),  # fmt: skip
                ("every", fields.CharField(max_length=16)),
                ("period_first", fields.DateField()),
                ("period_last", fields.DateField()),
                ("feed_jobs", fields.IntField()),
                ("due_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "digests", "app": "hub", "unique_together": (("account", "every", "period_last"),),
                "pk_attr": "id",
            },  # fmt: skip
            bases=["Model"],
        ),
        ops.CreateModel(
            name="FeedDay",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "account",
                    fields.ForeignKeyField(
                        "hub.Account", source_field="account_id", db_constraint=True, to_field="id",
                        related_name="feed_days", on_delete=OnDelete.CASCADE,
                    ),
                ),  # fmt: skip
                ("day", fields.DateField()),
                ("jobs", fields.IntField()),
                ("recorded_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "feed_days", "app": "hub", "unique_together": (("account", "day"),), "pk_attr": "id",
            },  # fmt: skip
            bases=["Model"],
        ),
    ]
