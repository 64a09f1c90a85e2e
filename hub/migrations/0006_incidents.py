from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("hub", "0005_bids_expiry")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Incident",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "account",
                    fields.ForeignKeyField(
                        "hub.Account", source_field="account_id", db_constraint=True, to_field="id",
                        related_name="incidents", on_delete=OnDelete.CASCADE,
                    ),
                ),  # fmt: skip
                ("topic", fields.CharField(max_length=32)),
                ("subject", fields.CharField(default="", max_length=128)),
                ("open_key", fields.CharField(null=True, max_length=161)),
                ("state", fields.CharField(default="open", max_length=16)),
                ("title", fields.TextField()),
                ("detail", fields.TextField()),
                ("notices", fields.IntField(default=1)),
                ("opened_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("resolved_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "incidents", "app": "hub", "unique_together": (("account", "open_key"),),
                "indexes": [Index(fields=["account_id", "state"])], "pk_attr": "id",
            },  # fmt: skip
            bases=["Model"],
        ),
    ]
