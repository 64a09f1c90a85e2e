"""Prometheus metrics: what operators graph and alert on. Served at ``GET /metrics``.

Counters and histograms are per process (Prometheus sums replicas); the delivery backlog is read from
the database at scrape time, so every replica reports the same cluster-wide numbers for it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "appcast_hub_http_requests", "HTTP requests answered, by route and status", ["route", "method", "status"],
    registry=REGISTRY,
)  # fmt: skip
HTTP_SECONDS = Histogram(
    "appcast_hub_http_request_seconds", "Time to answer an HTTP request, by route", ["route"],
    registry=REGISTRY,
)  # fmt: skip
WEBHOOK_REFUSED = Counter(
    "appcast_hub_webhook_refused",
    "Webhooks refused, by account and reason (signature, malformed, replay, unconfirmed by the ATS's API)",
    ["account", "reason"], registry=REGISTRY,
)  # fmt: skip
DELIVERIES = Gauge(
    "appcast_hub_deliveries",
    "Deliveries in the outbox, by state (cluster-wide)",
    ["state"],
    registry=REGISTRY,
)
HELD_JOBS = Gauge(
    "appcast_hub_held_close_jobs", "Jobs a held mass close would close, by account (cluster-wide; 0: none)",
    ["account"], registry=REGISTRY,
)  # fmt: skip
DELIVERY_ATTEMPTS = Counter(
    "appcast_hub_delivery_attempts", "Delivery attempts, by destination and outcome",
    ["destination", "outcome"], registry=REGISTRY,
)  # fmt: skip
DELIVERY_LATENCY = Histogram(
    "appcast_hub_delivery_latency_seconds", "From an event stored to its delivery acknowledged",
    ["destination"], buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
    registry=REGISTRY,
)  # fmt: skip
BREAKER_STATE = Gauge(
    "appcast_hub_breaker_state",
    "Circuit breaker in this process, by destination and account: 0 closed, 1 half-open, 2 open",
    ["destination", "account"], registry=REGISTRY,
)  # fmt: skip
BREAKER_PROBES = Counter(
    "appcast_hub_breaker_probes", "Probes that reached a destination whose breaker is open",
    ["destination", "account"], registry=REGISTRY,
)  # fmt: skip
SYNC_SECONDS = Histogram(
    "appcast_hub_sync_seconds", "Duration of an account's job sync", ["account"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600), registry=REGISTRY,
)  # fmt: skip
JOBS_REFUSED = Counter(
    "appcast_hub_sync_jobs_refused", "Jobs an adapter listed that the sync could not store, by reason",
    ["account", "reason"], registry=REGISTRY,
)  # fmt: skip
JOB_FIELDS_DROPPED = Counter(
    "appcast_hub_sync_job_fields_dropped", "Job fields the sync dropped as unusable (a 3-letter country…)",
    ["account", "field"], registry=REGISTRY,
)  # fmt: skip
SYNC_ERRORS = Counter(
    "appcast_hub_sync_errors", "Failed job syncs, by account", ["account"], registry=REGISTRY
)
FEED_SECONDS = Histogram(
    "appcast_hub_feed_build_seconds", "Time to write an account's feed", ["account"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60), registry=REGISTRY,
)  # fmt: skip
FEED_BYTES = Gauge(
    "appcast_hub_feed_bytes", "Size of the last feed written, uncompressed", ["account"], registry=REGISTRY
)
FEED_JOBS = Gauge("appcast_hub_feed_jobs", "Jobs in the last feed written", ["account"], registry=REGISTRY)
FEED_HEALTH = Gauge(
    "appcast_hub_feed_health_findings",
    "Jobs of the feed each health rule found, at its last check (feed lint, or after a sync)",
    ["account", "rule"],
    registry=REGISTRY,
)
PIXEL_HITS = Counter("appcast_hub_pixel_hits", "Pixel hits counted, by kind", ["kind"], registry=REGISTRY)
PIXEL_HITS_UNKNOWN = Counter(
    "appcast_hub_pixel_hits_unknown_job", "Pixel hits for job ids the account never had (counted as one)",
    ["kind"], registry=REGISTRY,
)  # fmt: skip
PIXEL_HITS_DROPPED = Counter(
    "appcast_hub_pixel_hits_dropped",
    "Pixel hits dropped because the spool was full (database away)",
    registry=REGISTRY,
)
CLIENT_PROTOCOL_ERRORS = Counter(
    "appcast_hub_client_protocol_errors", "Requests refused by the HTTP parser, by kind (LineTooLong…)",
    ["kind"], registry=REGISTRY,
)  # fmt: skip
