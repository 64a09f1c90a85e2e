"""Jobs leaving the feed by themselves: on their ATS closing date, or once older than ``max_age_days``.

A feed version holds the jobs unexpired at its moment (:func:`hub.feed.feed_moment`), so every build of
it, on any replica, is the same; time alone changes nothing served. :func:`expire_due` is what moves the
version on when a job's time runs out, run by the scheduler every :data:`EXPIRY_EVERY` on the leader, and
by ``appcast-hub feed`` before it writes. A job comes back when the ATS reposts it (a newer posting date)
or moves its closing date: sync sees a changed job, and that moves the feed on as any change does.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from tortoise.expressions import F, Q

from hub import models
from hub.accounts import LiveAccount, note_changed
from hub.feed import advertised, feed_moment

_LOGGER = logging.getLogger(__name__)

#: How often the leader looks for jobs whose time ran out: a job leaves at most this late.
EXPIRY_EVERY = timedelta(minutes=1)


def _expired_between(account: LiveAccount, since: datetime, until: datetime) -> Q:
    """Jobs that were unexpired at ``since`` and are expired at ``until``."""
    query = Q(closes_at__gt=since, closes_at__lte=until)
    if account.config.max_age_days:
        age = timedelta(days=account.config.max_age_days)
        query |= Q(posted_at__gte=since - age, posted_at__lt=until - age)
    return query


async def expire_due(account: LiveAccount, now: datetime | None = None) -> int:
    """Move the account's feed on if jobs in it expired since its version's moment; how many did.

    The bump is conditional on the version read, so two replicas sweeping at once move it once, and a
    sync that moved it meanwhile already judged expiry at its own, later moment.
    """
    now = now or datetime.now(UTC)
    moment = feed_moment(account)
    if now <= moment:  # another replica's clock ran ahead: nothing to judge yet
        return 0
    expired = await models.Job.filter(advertised(account) & _expired_between(account, moment, now)).count()
    if not expired:
        return 0
    version = account.row.feed_version
    moved = await models.Account.filter(id=account.row.id, feed_version=version).update(
        feed_version=F("feed_version") + 1, feed_changed_at=now
    )
    if moved:
        note_changed()
        _LOGGER.info("feed %s: %d jobs expired (closing date or max_age_days); version %d", account.name,
                     expired, version + 1)  # fmt: skip
    await account.row.refresh_from_db(fields=["feed_version", "feed_changed_at"])
    return expired if moved else 0
