"""Feed health: why a job in an account's feed is weak or will be refused, rule by rule.

Job platforms reject or demote feeds with jobs missing what they need (a URL, a location), boilerplate or
very short descriptions, titles stuffed with other text, links that are not HTTPS, ids longer than they
store, duplicates and stale jobs. Each rule here has an id (for scripts, metrics and filters) and says,
for each job it finds, what is wrong in plain words. The checks read the jobs the account advertises, in
batches, so an account of 100,000 jobs is linted in bounded memory. A job that expired (past its closing
date, or older than ``max_age_days``) is out of the feed: it is named for that alone, so an admin learns why
a job is missing.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from hub import models
from hub.accounts import LiveAccount
from hub.feed import advertised
from hub.mapping import country_names
from hub.metrics import FEED_HEALTH

#: Fewest characters of text (HTML tags and blanks aside) a description needs.
MIN_DESCRIPTION = 100
#: Every rule: its id and what it checks.
RULES: dict[str, str] = {
    "missing-element": "an element every job needs (url) is empty",
    "no-location": "no city, region or country, and not remote",
    "short-description": f"a description under {MIN_DESCRIPTION} characters of text",
    "boilerplate-description": "the same description as many other jobs of the feed",
    "title-extra-text": "a title carrying other text: the location, a salary, shouting",
    "insecure-link": "a link (url, applyurl) that is not https",
    "long-id": "a referencenumber longer than job platforms commonly store",
    "duplicate": "the same title, location and company as another job of the feed",
    "stale": "posted longer ago than the account's max_age_days: out of the feed until the ATS reposts it",
    "past-closing-date": "its closing date in the ATS has passed: out of the feed",
}
#: A description shared by this many jobs, and by this share of the feed or :data:`BOILERPLATE_MANY`
#: jobs (a share of a feed of 100,000 jobs would pass thousands of copies), is boilerplate.
BOILERPLATE_JOBS = 3
BOILERPLATE_SHARE = 0.1
BOILERPLATE_MANY = 50
#: Longest referencenumber platforms commonly keep whole (Indeed's and LinkedIn's limits are about 64).
MAX_ID_LENGTH = 64
#: Most findings listed per rule: the counts are always complete.
MAX_LISTED = 100
_BATCH = 2_000
_COLUMNS = ("ats_id", "title", "company", "city", "region", "country", "workplace", "hosted_url",
            "apply_url", "description_html", "posted_at", "closes_at")  # fmt: skip
_TAGS = re.compile(r"<[^>]*>")
_SALARY = re.compile(
    r"[$€£¥]\s?\d|\b\d+(?:[.,]\d+)?\s?k\b|\bper (?:hour|year|annum)\b|/\s?(?:hr|hour)\b", re.I
)
_SHOUT = re.compile(r"!{2,}|\b(?:URGENT|HIRING|IMMEDIATE(?:LY)?|ASAP|APPLY NOW)\b")


class FindingJson(TypedDict):
    """One job a rule found: the rule's id, the job's ATS id, and what is wrong."""

    rule: str
    ats_id: str
    message: str


class HealthJson(TypedDict):
    """An account's feed health: jobs checked, findings counted per rule, and the first of each rule."""

    account: str
    jobs: int
    counts: dict[str, int]
    findings: list[FindingJson]


@dataclass(slots=True)
class FeedHealth:
    """What :func:`feed_health` found in one account's feed."""

    account: str
    jobs: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    findings: list[FindingJson] = field(default_factory=list)

    def add(self, rule: str, ats_id: str, message: str) -> None:
        self.counts[rule] += 1
        if self.counts[rule] <= MAX_LISTED:
            self.findings.append({"rule": rule, "ats_id": ats_id, "message": message})

    def as_json(self) -> HealthJson:
        """The answer of the admin API and of ``feed lint --json``."""
        counts = {rule: self.counts[rule] for rule in RULES}
        return {"account": self.account, "jobs": self.jobs, "counts": counts, "findings": self.findings}


def description_text(description_html: str) -> str:
    """A description's words as a reader sees them: tags gone, entities read, blanks folded."""
    return " ".join(html.unescape(_TAGS.sub(" ", description_html)).split())


def title_problem(title: str, city: str | None, region: str | None, country: str | None) -> str | None:
    """What other text a title carries, or None (``country``: the job's ISO code, named in a title)."""
    if _SHOUT.search(title):
        return "shouts (URGENT, HIRING, !!)"
    if _SALARY.search(title):
        return "carries a salary"
    for place in (city, region, *country_names(country)):
        if place and len(place) > 2 and re.search(rf"\b{re.escape(place)}\b", title, flags=re.I):
            return f"carries the location ({place})"
    return None


def _expiry_finding(
    health: FeedHealth, row: dict[str, Any], now: datetime, max_age: timedelta | None
) -> bool:
    """Name the job if it expired; True when it did (it is out of the feed, the other rules pass it by)."""
    closes = row["closes_at"] and _aware(row["closes_at"])
    if closes and closes <= now:
        health.add("past-closing-date", row["ats_id"], f"its closing date {closes:%Y-%m-%d %H:%M} UTC passed")
        return True
    posted = _aware(row["posted_at"])
    if max_age is not None and now - posted > max_age:
        health.add(
            "stale",
            row["ats_id"],
            f"posted {(now - posted).days} days ago (max_age_days {max_age.days}): out of the feed until "
            "the ATS posts it again",
        )
        return True
    return False


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _job_findings(health: FeedHealth, row: dict[str, Any]) -> None:
    ats_id = row["ats_id"]
    if not row["hosted_url"]:
        health.add("missing-element", ats_id, "no url: platforms refuse a job they cannot link to")
    if not (row["city"] or row["region"] or row["country"]) and row["workplace"] != "remote":
        health.add("no-location", ats_id, "no city, region or country, and not remote")
    text = description_text(row["description_html"] or "")
    if len(text) < MIN_DESCRIPTION:
        health.add(
            "short-description",
            ats_id,
            f"{len(text)} characters of description (fewer than {MIN_DESCRIPTION})",
        )
    if problem := title_problem(row["title"], row["city"], row["region"], row["country"]):
        health.add("title-extra-text", ats_id, f"the title {problem}: {row['title'][:80]!r}")
    for element, url in (("url", row["hosted_url"]), ("applyurl", row["apply_url"])):
        if url and not url.lower().startswith("https://"):
            health.add("insecure-link", ats_id, f"{element} is not https: {url[:80]}")
    if len(ats_id) > MAX_ID_LENGTH:
        # The id whole, for a script to find the job by; the message is what is shortened.
        health.add("long-id", ats_id, f"a {len(ats_id)}-character referencenumber: {ats_id[:MAX_ID_LENGTH]}…")


async def feed_health(account: LiveAccount, *, now: datetime | None = None) -> FeedHealth:
    """Every rule over the jobs the account advertises, as of ``now``."""
    now = now or datetime.now(UTC)
    max_age = timedelta(days=account.config.max_age_days) if account.config.max_age_days else None
    health = FeedHealth(account.name)
    # Jobs by description digest and by title and place: what the per-job rules cannot see alone.
    by_description: defaultdict[str, list[str]] = defaultdict(list)
    by_identity: defaultdict[tuple[str, ...], list[str]] = defaultdict(list)
    query = models.Job.filter(advertised(account)).order_by("id")
    last_id = 0
    while rows := await query.filter(id__gt=last_id).limit(_BATCH).values("id", *_COLUMNS):
        last_id = rows[-1]["id"]
        for row in rows:
            if _expiry_finding(health, row, now, max_age):
                continue
            health.jobs += 1
            _job_findings(health, row)
            text = description_text(row["description_html"] or "").lower()
            if len(text) >= MIN_DESCRIPTION:
                by_description[hashlib.sha256(text.encode()).hexdigest()].append(row["ats_id"])
            # The job's own company, else the account's, as the feed writes it: a brand's job is no
            # duplicate of another brand's.
            company = row["company"] or account.config.company
            key = (row["title"], row["city"], row["region"], row["country"], company)
            by_identity[tuple((part or "").strip().lower() for part in key)].append(row["ats_id"])
    many = max(BOILERPLATE_JOBS, min(BOILERPLATE_SHARE * health.jobs, BOILERPLATE_MANY))
    for ids in by_description.values():
        if len(ids) >= many:
            for ats_id in ids:
                health.add(
                    "boilerplate-description", ats_id, f"the same description as {len(ids) - 1} other jobs"
                )
    for ids in by_identity.values():
        for ats_id in ids[1:]:
            health.add("duplicate", ats_id, f"the same title, location and company as job {ids[0]}")
    for rule in RULES:
        FEED_HEALTH.labels(account.name, rule).set(health.counts[rule])
    # Stored, for ``status`` on every replica: a check reads every job of the feed.
    counts = {rule: health.counts[rule] for rule in RULES}
    await models.Account.filter(id=account.row.id).update(health={"jobs": health.jobs, "counts": counts})
    return health


def health_summary(counts: dict[str, int] | None) -> str:
    """One line for ``status``: what the last check found, rule by rule."""
    if counts is None:
        return "not checked yet"
    found = ", ".join(f"{n} {rule}" for rule, n in sorted(counts.items()) if n)
    return found or "nothing to fix"


async def last_counts(account_id: int) -> dict[str, int] | None:
    """The counts by rule of the account's last check (a lint, or after a sync), by any process; None
    before the first."""
    [stored] = await models.Account.filter(id=account_id).values_list("health", flat=True)
    return None if stored is None else {rule: int(stored["counts"].get(rule, 0)) for rule in RULES}
