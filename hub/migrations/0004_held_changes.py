from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('hub', '0003_feed_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='HeldChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('hub.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='held_changes', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(default='close', description='What the sync wanted to do: ``close`` (jobs it did not see in a full snapshot).', max_length=16)),
                ('ats_ids', fields.JSONField(description='The ATS ids of the jobs it would close.', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('open_jobs', fields.IntField(description="How many of the account's jobs were open when it was held.")),
                ('state', fields.CharField(default='held', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_by', fields.CharField(null=True, description='Who resolved it: an admin (as in the audit log), or ``system`` for a sync.', max_length=255)),
            ],
            options={'table': 'held_changes', 'app': 'hub', 'indexes': [Index(fields=['account_id', 'state'])], 'pk_attr': 'id', 'table_description': 'A change a sync held back instead of applying (a sudden mass close), until confirmed or dropped.'},
            bases=['Model'],
        ),
    ]
