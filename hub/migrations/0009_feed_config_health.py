from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("hub", "0008_digests")]

    initial = False

    operations = [
        ops.AddField(model_name="Account", name="feed_config", field=fields.CharField(null=True, max_length=64)),
        ops.AddField(model_name="Account", name="health", field=fields.JSONField(null=True)),
    ]
