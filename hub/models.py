"""The hub's tables (tortoise-orm). Schema changes go through migrations in :mod:`hub.migrations`."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

# Tortoise needs the app label in relation names; one constant keeps them in step with hub.db.
APP = "hub"


class Account(Model):
    """An employer's connection: configured in TOML, with run-time state (switches, sync status) here.

    Nullable switch columns override the config file only once someone changed them at run time.
    """

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    adapter = fields.CharField(max_length=64)
    #: Run-time override of ``enabled`` from config (Slack, CLI, API). None follows the config file.
    enabled_override = fields.BooleanField(null=True)
    #: Run-time override of ``feed_policy`` from config. None follows the config file.
    feed_policy_override = fields.CharField(max_length=16, null=True)
    last_sync_started_at = fields.DatetimeField(null=True)
    last_sync_finished_at = fields.DatetimeField(null=True)
    last_sync_ok = fields.BooleanField(null=True)
    last_sync_error = fields.TextField(null=True)
    last_sync_jobs_seen = fields.IntField(default=0)
    last_full_sync_at = fields.DatetimeField(null=True)
    consecutive_sync_failures = fields.IntField(default=0)
    #: Up to when the ATS was last polled for events webhooks may have missed.
    last_reconciled_at = fields.DatetimeField(null=True)
    #: Bumped whenever the feed's content may have changed: the feed's ETag derives from it.
    feed_version = fields.BigIntField(default=0)
    feed_changed_at = fields.DatetimeField(auto_now_add=True)
    #: Digest of what of the config file and the hub's release the feed's bytes depend on
    #: (:func:`hub.accounts.feed_config_digest`): a start with another moves the feed's version on, so
    #: its Last-Modified moves with its ETag.
    feed_config = fields.CharField(max_length=64, null=True)
    #: The last feed-health check's jobs and counts by rule (:mod:`hub.health`), whichever process ran it.
    health = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "accounts"


#: The feed's keyset index, covering what a rebuild reads (:mod:`hub.feed_cache`).
FEED_KEY_INDEX = (
    "account_id", "is_open", "id", "appcast", "posted_at", "closes_at", "ats_id", "content_hash", "bid_cents",
)  # fmt: skip


class Job(Model):
    """The hub's mirror of one ATS job, and its Appcast switch."""

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        f"{APP}.Account", related_name="jobs", on_delete=fields.CASCADE
    )
    ats_id = fields.CharField(max_length=255)
    requisition_id = fields.CharField(max_length=255, null=True)
    title = fields.TextField()
    description_html = fields.TextField(default="")
    company = fields.TextField(null=True)
    city = fields.TextField(null=True)
    region = fields.TextField(null=True)
    country = fields.CharField(max_length=2, null=True)
    postal_code = fields.CharField(max_length=32, null=True)
    workplace = fields.CharField(max_length=16, null=True)
    department = fields.TextField(null=True)
    team = fields.TextField(null=True)
    employment_type = fields.CharField(max_length=64, null=True)
    salary_text = fields.TextField(null=True)
    hosted_url = fields.TextField(null=True)
    apply_url = fields.TextField(null=True)
    posted_at = fields.DatetimeField()
    ats_updated_at = fields.DatetimeField(null=True)
    #: When the ATS stops taking applications: the job leaves the feed at that moment.
    closes_at = fields.DatetimeField(null=True)
    is_open = fields.BooleanField(default=True)
    #: The Appcast switch: True on, False off, None never switched (the account's policy decides).
    appcast = fields.BooleanField(null=True)
    #: An admin's bid for this job, in cents of the account's currency; None: the account's default.
    bid_cents = fields.IntField(null=True)
    #: Digest of the normalised ATS fields: an unchanged job is not rewritten on sync.
    content_hash = fields.CharField(max_length=64)
    first_seen_at = fields.DatetimeField(auto_now_add=True)
    changed_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "jobs"
        unique_together = (("account", "ats_id"),)
        # The feed reads an account's open jobs in id order, a batch at a time (keyset paging). A rebuild
        # reads only each job's key and what decides whether it is in the feed: all in this index, so
        # neither database reads the rows (each holds a description of kilobytes) to find them.
        indexes = (("account_id", "is_open", "appcast"), FEED_KEY_INDEX)


class Event(Model):
    """A normalised ATS event, stored once per (account, dedupe_key)."""

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        f"{APP}.Account", related_name="events", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=32)
    dedupe_key = fields.CharField(max_length=255)
    ats_event = fields.CharField(max_length=64, default="")
    ats_job_id = fields.CharField(max_length=255, null=True)
    ats_application_id = fields.CharField(max_length=255, null=True)
    ats_candidate_id = fields.CharField(max_length=255, null=True)
    from_stage_id = fields.CharField(max_length=255, null=True)
    to_stage_id = fields.CharField(max_length=255, null=True)
    stage_name = fields.TextField(null=True)
    workflow = fields.CharField(max_length=255, default="")
    source = fields.TextField(null=True)
    candidate_hash = fields.CharField(max_length=64, null=True)
    #: The funnel event the stage mapping gave it when stored, None when unmapped.
    funnel_event = fields.CharField(max_length=16, null=True)
    occurred_at = fields.DatetimeField()
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "events"
        unique_together = (("account", "dedupe_key"),)
        indexes = (("account_id", "ats_job_id"),)


class Delivery(Model):
    """The outbox: one outbound message, stored with its event and kept until acknowledged."""

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        f"{APP}.Account", related_name="deliveries", on_delete=fields.CASCADE
    )
    event: fields.ForeignKeyNullableRelation[Event] = fields.ForeignKeyField(
        f"{APP}.Event", related_name="deliveries", null=True, on_delete=fields.SET_NULL
    )
    destination = fields.CharField(max_length=64)
    #: Stable across every attempt: receivers deduplicate on it.
    idempotency_key = fields.CharField(max_length=128, unique=True)
    payload = fields.JSONField()
    #: pending → delivered, or pending → dead after the last attempt. Replay puts dead back to pending.
    state = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    delivered_at = fields.DatetimeField(null=True)
    #: What the destination answered that a later delivery needs (a chat message's id, to thread on).
    receipt = fields.JSONField(null=True)
    #: The ``idempotency_key`` of the delivery this one follows: sent only once that one is delivered,
    #: with its receipt (an incident's update after its opening notice).
    after = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "deliveries"
        indexes = (("state", "next_attempt_at"),)


class StageMapping(Model):
    """Which funnel event an ATS stage means for an account (``funnel_event`` None: deliberately none)."""

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        f"{APP}.Account", related_name="stage_mappings", on_delete=fields.CASCADE
    )
    workflow = fields.CharField(max_length=255, default="")
    stage_id = fields.CharField(max_length=255)
    stage_name = fields.TextField(null=True)
    funnel_event = fields.CharField(max_length=16, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "stage_mappings"
        unique_together = (("account", "workflow", "stage_id"),)


class AuditEntry(Model):
    """Who changed what, when, from where: every run-time change lands here."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True)
    #: Who: a Slack user id, an OS user for the CLI, ``api`` plus token name for the admin API.
    actor = fields.CharField(max_length=255)
    #: Where from: ``slack``, ``cli``, ``api``, ``system``.
    source = fields.CharField(max_length=16)
    action = fields.CharField(max_length=64)
    account_name = fields.CharField(max_length=64, null=True)
    target = fields.TextField(null=True)
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)

    class Meta:
        table = "audit_log"
        indexes = (("at",),)


class WebhookReceipt(Model):
    """The inbox: a verified webhook exactly as it arrived, stored before the sender got its answer.

    The inbox worker turns it into events later; ``identity`` (the ATS's delivery id, or a digest of
    the body) is stored once per account, which is what makes a redelivery "already seen".
    """

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        f"{APP}.Account", related_name="webhook_receipts", on_delete=fields.CASCADE
    )
    identity = fields.CharField(max_length=255)
    headers = fields.JSONField()
    query = fields.JSONField()
    body = fields.BinaryField()
    received_at = fields.DatetimeField()
    #: pending → processed, or pending → failed (malformed, or attempts exhausted).
    state = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    events_stored = fields.IntField(default=0)

    class Meta:
        table = "webhook_receipts"
        unique_together = (("account", "identity"),)
        indexes = (("state", "next_attempt_at"),)


class PixelCount(Model):
    """Pixel hits per job and day, added to in batches (never one write per hit)."""

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        f"{APP}.Account", related_name="pixel_counts", on_delete=fields.CASCADE
    )
    ats_job_id = fields.CharField(max_length=255)
    day = fields.DateField()
    views = fields.BigIntField(default=0)
    applies = fields.BigIntField(default=0)

    class Meta:
        table = "pixel_counts"
        unique_together = (("account", "ats_job_id", "day"),)


class PixelBatch(Model):
    """A spool file of pixel hits already added to the counts: a file is never counted twice."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=255, unique=True)
    hits = fields.IntField()
    applied_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "pixel_batches"


class ApplyRequest(Model):
    """An Appcast Apply request by its ``Idempotency-Key``: a retry gets the first answer back."""

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        f"{APP}.Account", related_name="apply_requests", on_delete=fields.CASCADE
    )
    idempotency_key = fields.CharField(max_length=255)
    ats_job_id = fields.CharField(max_length=255)
    #: The HTTP answer given, replayed for a retry with the same key. None while the first is in flight.
    status = fields.IntField(null=True)
    response = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "apply_requests"
        unique_together = (("account", "idempotency_key"),)


class HeldChange(Model):
    """A change a sync held back instead of applying (a sudden mass close), until confirmed or dropped.

    ``state``: ``held`` while it waits; then ``applied`` (the next full sync agreed, or an admin
    confirmed), ``kept`` (an admin kept the jobs open) or ``dropped`` (the ATS listed the jobs again).
    At most one per account is ``held``.
    """

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        f"{APP}.Account", related_name="held_changes", on_delete=fields.CASCADE
    )
    #: What the sync wanted to do: ``close`` (jobs it did not see in a full snapshot).
    kind = fields.CharField(max_length=16, default="close")
    #: The ATS ids of the jobs it would close.
    ats_ids = fields.JSONField()
    #: How many of the account's jobs were open when it was held.
    open_jobs = fields.IntField()
    state = fields.CharField(max_length=16, default="held")
    created_at = fields.DatetimeField(auto_now_add=True)
    resolved_at = fields.DatetimeField(null=True)
    #: Who resolved it: an admin (as in the audit log), or ``system`` for a sync.
    resolved_by = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "held_changes"
        indexes = (("account_id", "state"),)


class Incident(Model):
    """A problem the hub tells admins about (:mod:`hub.incidents`): opened once, updated, resolved.

    ``open_key`` (``topic:subject``) is set while the incident is open and cleared when it is resolved:
    unique per account, it is what keeps one problem from opening twice, on any replica.
    """

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        f"{APP}.Account", related_name="incidents", on_delete=fields.CASCADE
    )
    topic = fields.CharField(max_length=32)
    subject = fields.CharField(max_length=128, default="")
    open_key = fields.CharField(max_length=161, null=True)
    state = fields.CharField(max_length=16, default="open")
    title = fields.TextField()
    detail = fields.TextField()
    #: Notices sent for it so far: the next one's ``sequence``.
    notices = fields.IntField(default=1)
    opened_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "incidents"
        unique_together = (("account", "open_key"),)
        indexes = (("account_id", "state"),)


class Digest(Model):
    """A digest queued for an account (:mod:`hub.digests`): at most one per account, schedule and period,
    on any replica (a unique key: a replica racing to queue the same one fails, and knows it is sent)."""

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        f"{APP}.Account", related_name="digests", on_delete=fields.CASCADE
    )
    #: ``daily`` or ``weekly``.
    every = fields.CharField(max_length=16)
    #: The UTC days it covers, both included.
    period_first = fields.DateField()
    period_last = fields.DateField()
    #: The jobs in the feed when it was made: what the next digest's change compares with.
    feed_jobs = fields.IntField()
    #: The scheduled moment it was for (it is queued at that moment, or when the hub is back after it).
    due_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "digests"
        unique_together = (("account", "every", "period_last"),)


class FeedDay(Model):
    """The jobs in an account's feed on a UTC day, as last recorded that day: a digest's sparkline of them."""

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        f"{APP}.Account", related_name="feed_days", on_delete=fields.CASCADE
    )
    day = fields.DateField()
    jobs = fields.IntField()
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "feed_days"
        unique_together = (("account", "day"),)
