"""Reading the jobs file. Imports nothing from the hub: this is the whole "protocol" of this ATS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class JobsFileError(Exception):
    """The jobs file cannot be read or is not the documented shape."""


def read_jobs_file(path: Path) -> list[dict[str, Any]]:
    """Return the ``jobs`` list of the file at ``path``; raise JobsFileError naming the problem."""
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise JobsFileError(f"{path}: file not found") from None
    except OSError as error:
        raise JobsFileError(f"{path}: cannot read: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise JobsFileError(f"{path}: not valid JSON: {error}") from None
    jobs = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(jobs, list):
        raise JobsFileError(f'{path}: expected an object with a "jobs" list')
    return jobs
