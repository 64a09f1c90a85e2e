"""The contract kit tests itself: known adapter mistakes, each applied to a copy of the adapter template,
must make the kit fail, and the pristine copy must pass every check (none skipped).

Each break is a textual edit of the template's source, the kind of mistake an author makes; the edit's
text must occur exactly once in the template, so a change to the template cannot quietly turn a break
into no change at all. The copy runs under pytest's own ``pytester``, as an outside adapter's suite
would run the kit, against the template's fake MyATS and its contract fixtures
(``tests/plugins/test_template.py``). Each break names the kit check that must catch it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import pytest

from hub.testing import AdapterContract
from tests.conftest import REPO

pytest_plugins = ["pytester"]

TEMPLATE = REPO / "plugins" / "_template"
SIGNATURE_CHECK = (
    '    sdk.require_body_signature(request, options["webhook_secret"], signature, '
    "prefix=const.SIGNATURE_PREFIX)\n"
)
APPLICATION_POST = (
    'answer = await account_api.post(f"/v1/jobs/{job.ats_id}/applications", body, refusals=True)\n'
)


@dataclass(frozen=True)
class Break:
    name: str
    file: str
    old: str
    new: str
    #: The kit checks (``test_contract_…`` without the prefix) at least one of which must fail.
    caught_by: tuple[str, ...]


BREAKS = [
    Break(
        "snapshot_on_incremental_fetch",
        "plugin.py",
        "snapshot=since is None)",
        "snapshot=True)",
        ("an_incremental_fetch_is_a_snapshot_only_when_it_lists_everything",),
    ),
    Break(
        "one_identity_for_every_webhook",
        "plugin.py",
        "return event_id if isinstance(event_id, str) and event_id else None",
        'return "myats-webhook"',
        ("signed_webhooks_have_unique_identities_and_valid_events",),
    ),
    Break(
        "parse_returns_nothing",
        "plugin.py",
        "return sdk.webhook_events(lambda: event_from_webhook(body, stages))",
        "return []",
        ("signed_webhooks_have_unique_identities_and_valid_events",),
    ),
    Break(
        "invalid_event_kind",
        "const.py",
        '"candidate.stage_changed": "stage_changed"',
        '"candidate.stage_changed": "stage_moved"',
        ("signed_webhooks_have_unique_identities_and_valid_events",),
    ),
    Break(
        "job_title_as_job_id",
        "mapping.py",
        'ats_job_id=sdk.text(data.get("job_id"))',
        'ats_job_id=sdk.text(data.get("job_title"))',
        (
            "signed_webhooks_have_unique_identities_and_valid_events",
            "a_hire_is_the_same_by_webhook_and_by_reconciliation",
        ),
    ),
    Break(
        "poll_and_webhook_keys_differ",
        "mapping.py",
        '{**item, "application_id": item.get("id")}',
        '{**item, "application_id": item.get("candidate_id")}',
        ("a_hire_is_the_same_by_webhook_and_by_reconciliation",),
    ),
    Break(
        "create_swallows_a_refusal",
        "plugin.py",
        "    " + APPLICATION_POST,
        "    try:\n        "
        + APPLICATION_POST
        + '    except sdk.ApplicationRefused:\n        answer = {"id": "pending"}\n',
        ("an_application_the_ats_refuses_is_refused",),
    ),
    Break(
        "create_reports_an_id_the_ats_never_gave",
        "plugin.py",
        'return sdk.ApplicationResult(answer["id"], answer.get("candidate_id"))',
        'return sdk.ApplicationResult(f"myats-{job.ats_id}", answer.get("candidate_id"))',
        ("creates_an_application_the_ats_confirms",),
    ),
    Break(
        "an_unnamed_application_said_to_be_nothing",
        "plugin.py",
        'raise sdk.OutcomeUnknown(f"{const.PEER} accepted the application without naming it: it may exist")',
        'raise sdk.AdapterUnavailable(f"{const.PEER} accepted the application without naming it")',
        ("an_application_the_ats_may_have_created_is_never_sent_again",),
    ),
    Break(
        "form_not_checked_before_sending",
        "mapping.py",
        "for question in questions:",
        "for question in questions[:0]:",
        ("an_application_the_form_cannot_take_is_refused_before_sending",),
    ),
    Break(
        "paging_stops_after_the_first_page",
        "client.py",
        'return listed(body, path, key), body.get("next_page")',
        "return listed(body, path, key), None",
        ("full_fetch_pages_to_the_end_and_normalises_every_job",),
    ),
    Break(
        "closed_jobs_left_out",
        "plugin.py",
        "sdk.mapped(items, job_from_item, peer=const.PEER)",
        'sdk.mapped([i for i in items if i.get("status") == "open"], job_from_item, peer=const.PEER)',
        ("full_fetch_pages_to_the_end_and_normalises_every_job",),
    ),
    Break(
        "naive_datetimes",
        "mapping.py",
        'posted_at=sdk.iso_time(item.get("created_at"), "a job\'s created_at"),',
        'posted_at=datetime.fromisoformat(item["created_at"].removesuffix("Z")),',
        ("full_fetch_pages_to_the_end_and_normalises_every_job",),
    ),
    Break(
        "signature_compared_on_a_prefix",
        "plugin.py",
        SIGNATURE_CHECK,
        "    sent = (request.header(signature) or '').removeprefix(const.SIGNATURE_PREFIX)\n"
        "    expected = sdk.sign(options['webhook_secret'], request.body)\n"
        "    if not sent or sent[:8] != expected[:8]:\n"
        "        raise sdk.WebhookRejected('bad signature')\n",
        ("refuses_unsigned_and_tampered_webhooks",),
    ),
    Break(
        "signature_not_checked",
        "plugin.py",
        SIGNATURE_CHECK,
        "",
        ("refuses_unsigned_and_tampered_webhooks",),
    ),
]

SUITE = """
import pytest

from {package} import plugin
from tests.plugins.test_template import MyATSContract


class TestMutant(MyATSContract):
    @pytest.fixture
    def contract_plugin(self):
        return "myats", plugin
"""


def _run_kit(pytester: pytest.Pytester, package: str, edit: Break | None = None) -> pytest.HookRecorder:
    """The kit against a copy of the template named ``package``, with ``edit`` applied."""
    copy = pytester.path / package
    shutil.copytree(TEMPLATE, copy, ignore=shutil.ignore_patterns("__pycache__", "README.md"))
    if edit is not None:
        source = (copy / edit.file).read_text(encoding="utf-8")
        assert source.count(edit.old) == 1, f"{edit.name}: the text to break is not once in {edit.file}"
        (copy / edit.file).write_text(source.replace(edit.old, edit.new), encoding="utf-8")
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(**{f"test_{package}": SUITE.format(package=package)})
    pytester.syspathinsert()
    return pytester.inline_run("-p", "no:cacheprovider")


def _checks(reports: list[pytest.TestReport]) -> set[str]:
    return {
        report.nodeid.rpartition("::test_contract_")[2]
        for report in reports
        if "::test_contract_" in report.nodeid
    }


def test_the_pristine_template_passes_every_check(pytester: pytest.Pytester) -> None:
    passed, skipped, failed = _run_kit(pytester, "pristine").listoutcomes()
    assert (failed, skipped) == ([], [])
    every_check = {
        name.removeprefix("test_contract_")
        for name in dir(AdapterContract)
        if name.startswith("test_contract_")
    }
    assert _checks(passed) == every_check


@pytest.mark.parametrize("edit", BREAKS, ids=[edit.name for edit in BREAKS])
def test_the_kit_fails_a_broken_adapter(pytester: pytest.Pytester, edit: Break) -> None:
    _, _, failed = _run_kit(pytester, f"mutant_{edit.name}", edit).listoutcomes()
    caught = _checks(failed)
    assert caught, f"the kit passed the template with {edit.name}"
    assert caught & set(edit.caught_by), f"{edit.name} was caught by {sorted(caught)}, not {edit.caught_by}"


def test_there_are_at_least_ten_breaks() -> None:
    assert len({edit.name for edit in BREAKS}) == len(BREAKS) >= 10
