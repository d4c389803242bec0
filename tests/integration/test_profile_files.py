"""``GIST_PROFILE`` and ``plan --profile`` given a file or a name: a JSON file of overrides read
and hashed, a bad one refused when the settings load (one line naming the setting and the field),
and the commands that refuse to start with one (exit 2, no traceback, nothing created)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from scheduler.config.profiles import ProfileError, load_profile, profile_hash
from scheduler.config.settings import Settings
from scheduler.domain.profile import DEFAULT_PROFILE

pytestmark = pytest.mark.integration

COMMAND = [sys.executable, "-m", "scheduler.app.cli"]


def write(path: Path, content: Any) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_a_file_overrides_fields_and_gets_a_name_and_hash_of_its_own(tmp_path: Path) -> None:
    unnamed = load_profile(str(write(tmp_path / "site-b.json", {"resume_review_due_days": 10})))
    assert unnamed.profile.resume_review_due_days == 10
    assert unnamed.name == "esmo2022-seed+site-b"
    named = load_profile(str(write(tmp_path / "p.json", {"name": "site-b-2026", "oneoff_due_days": 10})))
    assert named.name == "site-b-2026"
    assert len({unnamed.digest, named.digest, profile_hash(DEFAULT_PROFILE)}) == 3
    active = Settings(env="test", profile=str(tmp_path / "p.json")).active_profile
    assert (active.name, active.digest) == (named.name, named.digest)


BAD_FILES = [
    ("missing", None, "cannot read"),
    ("not-json", "{weekly", "not valid JSON"),
    ("not-an-object", [1, 2], "JSON object"),
    ("unknown-field", {"weekly_liver_dayz": 7}, "weekly_liver_dayz"),
    ("bad-value", {"resume_review_due_days": "seven"}, "resume_review_due_days"),
    ("out-of-range", {"horizon_months": 0}, "horizon_months"),
    ("schedule", {"surveillance": {}}, "surveillance"),
    ("bad-name", {"name": ""}, "name"),
]


@pytest.mark.parametrize(
    ("content", "named"), [(c, n) for _, c, n in BAD_FILES], ids=[i for i, *_ in BAD_FILES]
)
def test_a_bad_profile_file_is_refused_naming_the_setting_and_field(
    tmp_path: Path, content: Any, named: str
) -> None:
    path = tmp_path / "profile.json"
    if content is not None:
        write(path, content)
    with pytest.raises(ProfileError, match=named):
        load_profile(str(path))
    with pytest.raises(ValidationError) as refused:
        Settings(env="test", profile=str(path))
    assert "GIST_PROFILE" in str(refused.value)
    assert named in str(refused.value)


def env_with(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIST_")}
    env.update(GIST_ENV="test", GIST_DATA_DIR=str(tmp_path / "var"), **extra)
    return env


@pytest.mark.parametrize("command", ["worker", "clock", "serve", "run"])
def test_the_services_refuse_to_start_with_a_bad_profile(tmp_path: Path, command: str) -> None:
    path = write(tmp_path / "profile.json", {"resume_review_due_days": -1})
    result = subprocess.run(
        [*COMMAND, command], env=env_with(tmp_path, GIST_PROFILE=str(path)), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("GIST_PROFILE: ")
    assert "resume_review_due_days" in lines[0]
    assert not (tmp_path / "var").exists()  # refused before anything was created


def test_plan_accepts_a_built_in_name(tmp_path: Path) -> None:
    events = Path(__file__).resolve().parents[2] / "examples" / "cohort.jsonl"
    result = subprocess.run(
        [*COMMAND, "plan", str(events), "--as-of", "2026-11-27", "--profile", "esmo2022-seed"],
        env=env_with(tmp_path), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {json.loads(line)["profile"] for line in result.stdout.splitlines()} == {"esmo2022-seed"}
