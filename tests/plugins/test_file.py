"""The ``file`` adapter: the contract-test kit, plus what its documented shape promises."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import plugins.file.plugin as file_plugin
from hub.errors import AdapterUnavailable
from hub.testing import AdapterContract, AdapterUnderTest
from tests.conftest import SAMPLE_JOBS, demo_config, hub_command, write_config


class TestSampleJobs(AdapterContract):
    """The shipped sample, as the embedded default serves it."""

    @pytest.fixture
    def contract_plugin(self) -> tuple[str, Any]:
        return "file", file_plugin

    @pytest.fixture
    def contract_options(self) -> dict[str, Any]:
        return {"path": str(SAMPLE_JOBS), "page_size": 8}

    @pytest.fixture
    def contract_expected_ids(self) -> set[str]:
        return {entry["id"] for entry in json.loads(SAMPLE_JOBS.read_text())["jobs"]}

    @pytest.fixture
    def contract_min_pages(self) -> int:
        return 7  # 50 jobs, 8 a page

    async def test_sample_is_realistic(self, adapter: AdapterUnderTest) -> None:
        jobs = [job for page in await adapter.fetch_pages() for job in page.jobs]
        assert len(jobs) == 50
        assert sum(not job.is_open for job in jobs) == 6
        nurse = next(job for job in jobs if job.ats_id == "NW-1001")
        assert (nurse.title, nurse.city, nurse.region, nurse.country) == (
            "Registered Nurse, ICU", "Portland", "OR", "US",
        )  # fmt: skip
        assert nurse.salary_text is not None
        assert nurse.salary_text.startswith("USD ")
        assert any("]]>" in job.description_html for job in jobs), "the sample keeps its CDATA edge case"


def write_jobs(path: Path, jobs: Any) -> Path:
    path.write_text(json.dumps({"jobs": jobs}), encoding="utf-8")
    return path


@pytest.fixture
def adapter_for(tmp_path: Path):
    """Options for a jobs file holding the given content."""

    def build(content: str) -> dict[str, Any]:
        path = tmp_path / "jobs.json"
        path.write_text(content, encoding="utf-8")
        return {"path": path, "page_size": 500}

    return build


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{", "not valid JSON"),
        ('{"positions": []}', 'expected an object with a "jobs" list'),
        ('{"jobs": [{"id": "1"}]}', "jobs[0]: 'id' and 'title' are required"),
        ('{"jobs": [{"id": "1", "title": "t", "posted_at": "yesterday"}]}', "jobs[0]: 'posted_at' must be"),
        ('{"jobs": [{"id": "1", "title": "t", "posted_at": "2026-01-01T00:00:00"}]}', "with a zone"),
        (
            '{"jobs": [{"id": "1", "title": "t", "posted_at": "2026-01-01T00:00:00Z", "status": "live"}]}',
            "'status' must be 'open' or 'closed'",
        ),
    ],
)
async def test_bad_files_fail_the_fetch_naming_the_problem(adapter_for, content: str, problem: str) -> None:
    options = adapter_for(content)
    with pytest.raises(AdapterUnavailable) as caught:
        [page async for page in file_plugin.appcast_hub_fetch_jobs(account=None, options=options)]
    assert problem in str(caught.value)


async def test_missing_file_fails_the_fetch(tmp_path: Path) -> None:
    options = {"path": tmp_path / "absent.json", "page_size": 10}
    with pytest.raises(AdapterUnavailable, match="file not found"):
        [page async for page in file_plugin.appcast_hub_fetch_jobs(account=None, options=options)]


def test_check_config_names_a_jobs_file_that_does_not_exist(tmp_path: Path) -> None:
    config = write_config(tmp_path, demo_config("sqlite://:memory:", 8080, jobs_path=tmp_path / "gone.json"))
    result = subprocess.run(hub_command("check-config", "-c", str(config)), capture_output=True, text=True)
    assert result.returncode == 2
    missing = tmp_path / "gone.json"
    assert result.stderr.strip() == (
        f"appcast-hub: config error: {config}: accounts.demo.file.path: no such file: {missing}"
    )


async def test_salary_string_and_range_and_defaults(tmp_path: Path) -> None:
    path = write_jobs(
        tmp_path / "jobs.json",
        [
            {"id": "a", "title": "A", "posted_at": "2026-01-01T00:00:00Z", "salary": "Competitive"},
            {
                "id": "b", "title": "B", "posted_at": "2026-01-01T00:00:00+01:00",
                "salary": {"currency": "GBP", "min": 30000, "max": 30000, "interval": "per-year"},
            },
        ],
    )  # fmt: skip
    pages = [
        p
        async for p in file_plugin.appcast_hub_fetch_jobs(
            account=None, options={"path": path, "page_size": 1}
        )
    ]
    a, b = (page.jobs[0] for page in pages)
    assert a.salary_text == "Competitive"
    assert b.salary_text == "GBP 30000 per year"
    assert a.is_open
    assert a.workplace is None
