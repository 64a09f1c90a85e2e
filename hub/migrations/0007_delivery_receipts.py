from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("hub", "0006_incidents")]

    initial = False

    operations = [
        ops.AddField(model_name="Delivery", name="receipt", field=fields.JSONField(null=True)),
        ops.AddField(model_name="Delivery", name="after", field=fields.CharField(null=True, max_length=128)),
    ]
