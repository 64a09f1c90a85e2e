"""The /appcast grammar and its rendering, without a server: every way of typing a command, and escaping."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.slack import blocks
from hub.slack.commands import (
    MAX_IDS,
    Audit,
    BidJob,
    Deliveries,
    Feed,
    Help,
    Incidents,
    JobRef,
    Jobs,
    MapStage,
    Reconcile,
    Retry,
    Stages,
    Stats,
    Status,
    SwitchIntegration,
    SwitchJobs,
    Sync,
    UsageError,
    parse,
    tokenize,
)

ACCOUNTS = ["acme", "globex"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("  help ", Help()),
        ("status", Status()),
        ("status Acme", Status(account="acme")),
        ("jobs", Jobs()),
        ("jobs acme", Jobs(account="acme")),
        ('jobs acme "senior nurse" icu', Jobs(account="acme", words="senior nurse icu")),
        ("jobs nurse", Jobs(words="nurse")),
        ("enable job 123", SwitchJobs(on=True, refs=(JobRef("123"),))),
        ("disable jobs 1,2, 3 2", SwitchJobs(on=False, refs=(JobRef("1"), JobRef("2"), JobRef("3")))),
        ("enable job acme:7 nope:8", SwitchJobs(on=True, refs=(JobRef("7", "acme"), JobRef("nope:8")))),
        ("ENABLE JOB Abc-1", SwitchJobs(on=True, refs=(JobRef("Abc-1"),))),
        ("bid job 123 1.5", BidJob(ref=JobRef("123"), cents=150)),
        ("BID JOB acme:7 0", BidJob(ref=JobRef("7", "acme"), cents=0)),
        ("bid job 123 Default", BidJob(ref=JobRef("123"), cents=None)),
        ("enable integration globex", SwitchIntegration(on=True, account="globex")),
        ("disable integration acme", SwitchIntegration(on=False, account="acme")),
        ("stages acme", Stages(account="acme")),
        (
            "map stage acme lead-new interview",
            MapStage(account="acme", stage_id="lead-new", funnel_event="interview"),
        ),
        (
            "map stage acme wf:s1 NONE",
            MapStage(account="acme", stage_id="s1", workflow="wf", funnel_event=None),
        ),
        ("sync globex", Sync(account="globex")),
        ("reconcile globex", Reconcile(account="globex")),
        ("deliveries", Deliveries()),
        ("deliveries failed", Deliveries(failed=True)),
        ("retry 42", Retry(delivery_id=42)),
        ("retry #42", Retry(delivery_id=42)),
        ("retry failed", Retry()),
        ("stats", Stats()),
        ("stats job globex:9", Stats(job=JobRef("9", "globex"))),
        ("feed acme", Feed(account="acme")),
        ("audit", Audit()),
        ("audit 50", Audit(limit=50)),
        ("incidents", Incidents()),
        ("incidents all", Incidents(every=True)),
        # Phones type curly quotes; Slack escapes &, < and >.
        ("jobs \u201csenior nurse\u201d", Jobs(words="senior nurse")),
        ("enable job &lt;1&gt; a&amp;b", SwitchJobs(on=True, refs=(JobRef("<1>"), JobRef("a&b")))),
        # An apostrophe inside a token is a character, not a quote.
        ("enable job 1' OR '1'='1", SwitchJobs(on=True, refs=(JobRef("1'"), JobRef("OR"), JobRef("'1'='1")))),
        ("jobs O'Brien", Jobs(words="O'Brien")),
    ],
)
def test_commands_parse(text: str, expected: object) -> None:
    assert parse(text, ACCOUNTS) == expected


def test_the_only_account_may_go_unnamed() -> None:
    assert parse("sync", ["acme"]) == Sync(account="acme")
    assert parse("feed", ["acme"]) == Feed(account="acme")
    assert parse("map stage s1 offer", ["acme"]) == MapStage(
        account="acme", stage_id="s1", funnel_event="offer"
    )


@pytest.mark.parametrize(
    ("text", "message", "closest"),
    [
        ("stauts", "“stauts” is not an /appcast command.", "stats"),
        ("enabel job 1", "“enabel” is not an /appcast command.", "enable job"),
        ("disable integraton acme", "Disable what: a job or an integration?", "disable integration"),
        ("enable", "Enable what: a job or an integration?", "enable job"),
        ("enable job", "Which jobs? Give one or more ATS job ids.", "enable job"),
        ("sync", "Which account? (acme, globex)", "sync"),
        ("sync acm", "There is no account named “acm”. Did you mean `acme`?", "sync"),
        ("sync acme now", "Unexpected “now” after `sync`.", "sync"),
        ("bid 123 1.50", "Bid on what? Only jobs take bids.", "bid job"),
        ("bid job 123", "Give one job id and its bid", "bid job"),
        ("bid job 1 2 1.50", "Give one job id and its bid", "bid job"),
        ("bid job 123 1.505", "The bid “1.505” has more than 2 decimals.", "bid job"),
        ("bid job 123 -2", "The bid “-2” is negative: a bid is 0 or more.", "bid job"),
        ("bid job 123 1000.01", "The bid “1000.01” is more than the highest bid, 1000.00.", "bid job"),
        ("bid job 123 $1", "The bid “$1” is not an amount", "bid job"),
        ("map acme", "Map what? Only stages can be mapped.", "map stage"),
        ("map stage acme s1", "Give the account, the stage id and the funnel event.", "map stage"),
        ("map stage acme s1 hire", "“hire” is not a funnel event", "map stage"),
        ("map stage acme wf: screen", "“wf:” has no stage id after the workflow.", "map stage"),
        ("retry", "Give one delivery id", "retry"),
        ("retry 1 2", "Give one delivery id", "retry"),
        ("retry \uff19", "Give one delivery id", "retry"),  # a full-width digit
        ("retry " + "9" * 30, "Give one delivery id", "retry"),
        ("audit 0", "`audit` takes how many entries to show, 1 to 50.", "audit"),
        ("incidents now", "`incidents` takes only `all`, not “now”.", "incidents"),
        ("audit 51", "`audit` takes how many entries to show", "audit"),
        ("audit " + "9" * 5000, "`audit` takes how many entries to show", "audit"),
        ("stats 5", "`stats` alone, or `stats job <id>` for one job.", "stats"),
        ("deliveries all", "`deliveries` takes only `failed`, not “all”.", "deliveries"),
        ("frobnicate", "“frobnicate” is not an /appcast command.", None),
    ],
)
def test_mistakes_become_usage_errors(text: str, message: str, closest: str | None) -> None:
    error = parse(text, ACCOUNTS)
    assert isinstance(error, UsageError)
    assert message in error.message
    assert error.closest == closest


def test_at_most_so_many_ids() -> None:
    assert isinstance(parse("enable job " + " ".join(map(str, range(MAX_IDS))), ACCOUNTS), SwitchJobs)
    assert isinstance(parse("enable job " + " ".join(map(str, range(MAX_IDS + 1))), ACCOUNTS), UsageError)


def test_who_may_run_what() -> None:
    changing = {"enable job 1", "disable job 1", "bid job 1 2", "enable integration acme",
                "disable integration acme", "map stage acme s interview", "sync acme", "retry 1"}  # fmt: skip
    reading = {
        "help",
        "status",
        "jobs",
        "stages acme",
        "deliveries",
        "stats",
        "feed acme",
        "audit",
        "incidents",
    }
    for text in changing | reading:
        command = parse(text, ACCOUNTS)
        assert not isinstance(command, UsageError)
        assert command.changes is (text in changing), text


@given(st.text(max_size=300))
def test_any_text_parses_or_gets_a_usage_line_that_is_safe_to_show(text: str) -> None:
    result = parse(text, ACCOUNTS)
    if isinstance(result, UsageError):
        rendered = blocks.usage_message(result)
        for mrkdwn in _mrkdwn(rendered):
            # Slack markup can only come from us: every < and > typed is escaped.
            assert "<" not in mrkdwn
            assert ">" not in mrkdwn


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1), max_size=5))
def test_typed_text_is_always_literal_in_mrkdwn(pieces: list[str]) -> None:
    for piece in pieces:
        shown = blocks.typed(piece)
        assert shown[0] == shown[-1] == "`"
        assert "`" not in shown[1:-1], "a backtick inside would end the code span"
        assert not {"<", ">"} & set(shown)
        assert re.sub(r"&(amp|lt|gt);", "", shown).count("&") == 0


def test_what_cannot_be_stored_is_dropped() -> None:
    assert tokenize("jobs a\x00b \ud800c") == ["jobs", "ab", "c"]


def test_tokens_keep_quoted_spaces() -> None:
    assert tokenize('a "b c" \'d e\' f"g h" ""') == ["a", "b c", "d e", 'f"g', 'h"']


def test_page_state_round_trips_and_refuses_what_it_did_not_write() -> None:
    state = blocks.PageState("acme", "nurse", 10)
    value = state.value(j="ACME-1", ja="acme")
    decoded = blocks.PageState.from_value(value)
    assert decoded is not None
    assert decoded[0] == state
    assert decoded[1]["j"] == "ACME-1"
    forged = [
        "", "{", "[]", "[" * 5000, '{"a": null}',
        '{"a": 1, "q": "", "o": 0}', '{"a": null, "q": "", "o": -1}',
        json.dumps({"a": None, "q": "", "o": 10**30}), json.dumps({"a": None, "q": "", "o": "9" * 5000}),
        json.dumps({"a": None, "q": "\x00", "o": 0}), json.dumps({"a": None, "q": "", "o": 0, "j": "1\x00"}),
    ]  # fmt: skip
    for bad in forged:
        assert blocks.PageState.from_value(bad) is None, bad


def test_long_lists_stay_within_slacks_limits() -> None:
    rows = [f"row {n} " + "x" * 200 for n in range(100)]
    sections = blocks.sections(rows)
    assert all(len(s["text"]["text"]) <= blocks.MAX_SECTION for s in sections)
    assert sum(s["text"]["text"].count("row ") for s in sections) == 100
    message = blocks.message("many", [blocks.section(str(n)) for n in range(80)])
    assert len(message["blocks"]) == blocks.MAX_BLOCKS
    assert "narrow it down" in json.dumps(message["blocks"][-1])


def _mrkdwn(message: dict) -> list[str]:
    found = []
    for block in message["blocks"]:
        if block["type"] == "section":
            found.append(block["text"]["text"])
        found.extend(e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn")
    return found


def test_incidents_say_what_is_wrong_since_when_and_escaped() -> None:
    from datetime import UTC, datetime

    opened = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    incident = {
        "id": 1, "account": "acme", "topic": "sync-failing", "subject": "", "state": "open",
        "title": "acme: the sync from <lever> is failing", "detail": "3 syncs in a row failed & more",
        "opened_at": opened, "updated_at": opened, "resolved_at": None,
    }  # fmt: skip
    shown = json.dumps(blocks.incidents([incident], every=False))
    assert "acme: the sync from &lt;lever&gt; is failing" in shown
    assert "3 syncs in a row failed &amp; more" in shown
    assert "open" in shown
    assert "Nothing is wrong" in json.dumps(blocks.incidents([], every=False))
    assert "No incident recorded yet" in json.dumps(blocks.incidents([], every=True))
