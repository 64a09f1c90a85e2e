from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

FEED_KEY_INDEX = [
    "account_id", "is_open", "id", "appcast", "posted_at", "closes_at", "ats_id", "content_hash", "bid_cents",
]  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("hub", "0004_held_changes")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Job",
            name="closes_at",
            field=fields.DatetimeField(
                null=True,
                auto_now=False,
                auto_now_add=False,
            ),
        ),
        ops.AddField(
            model_name="Job",
            name="bid_cents",
            field=fields.IntField(null=True),
        ),
        ops.AddIndex(model_name="Job", index=Index(fields=FEED_KEY_INDEX)),
        # The new index starts with this one's columns: it serves the feed's keyset paging alone.
        ops.RemoveIndex(model_name="Job", fields=["account_id", "is_open", "id"]),
    ]
