from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('hub', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ApplyRequest',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('hub.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='apply_requests', on_delete=OnDelete.CASCADE)),
                ('idempotency_key', fields.CharField(max_length=255)),
                ('ats_job_id', fields.CharField(max_length=255)),
                ('status', fields.IntField(null=True, description='The HTTP answer given, replayed for a retry with the same key. None while the first is in flight.')),
                ('response', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'apply_requests', 'app': 'hub', 'unique_together': (('account', 'idempotency_key'),), 'pk_attr': 'id', 'table_description': 'An Appcast Apply request by its ``Idempotency-Key``: a retry gets the first answer back.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PixelBatch',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=255)),
                ('hits', fields.IntField()),
                ('applied_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'pixel_batches', 'app': 'hub', 'pk_attr': 'id', 'table_description': 'A spool file of pixel hits already added to the counts: a file is never counted twice.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PixelCount',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('hub.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='pixel_counts', on_delete=OnDelete.CASCADE)),
                ('ats_job_id', fields.CharField(max_length=255)),
                ('day', fields.DateField()),
                ('views', fields.BigIntField(default=0)),
                ('applies', fields.BigIntField(default=0)),
            ],
            options={'table': 'pixel_counts', 'app': 'hub', 'unique_together': (('account', 'ats_job_id', 'day'),), 'pk_attr': 'id', 'table_description': 'Pixel hits per job and day, added to in batches (never one write per hit).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookReceipt',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('hub.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='webhook_receipts', on_delete=OnDelete.CASCADE)),
                ('identity', fields.CharField(max_length=255)),
                ('headers', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('query', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('body', fields.BinaryField()),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('state', fields.CharField(default='pending', description='pending → processed, or pending → failed (malformed, or attempts exhausted).', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('events_stored', fields.IntField(default=0)),
            ],
            options={'table': 'webhook_receipts', 'app': 'hub', 'unique_together': (('account', 'identity'),), 'indexes': [Index(fields=['state', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': 'The inbox: a verified webhook exactly as it arrived, stored before the sender got its answer.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Account',
            name='last_reconciled_at',
            field=fields.DatetimeField(null=True, description='Up to when the ATS was last polled for events webhooks may have missed.', auto_now=False, auto_now_add=False),
        ),
    ]
