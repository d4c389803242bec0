"""``GIST_PROFILE`` and ``plan --profile``: a built-in name or a JSON file of overrides, checked
when the settings load (one line naming the setting and the field, exit 2, no traceback), and the
profile's content hash."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from scheduler.config.profiles import BUILT_IN, ProfileError, load_profile, profile_hash
from scheduler.config.settings import Settings
from scheduler.domain.profile import DEFAULT_PROFILE, FixedSchedule

COMMAND = [sys.executable, "-m", "scheduler.app.cli"]


def write(path: Path, content: Any) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_the_default_is_the_built_in_seed_profile() -> None:
    active = Settings(env="test").active_profile
    assert active.profile is DEFAULT_PROFILE
    assert active.name == "esmo2022-seed" == active.source
    assert active.digest == profile_hash(DEFAULT_PROFILE)
    assert len(active.digest) == 16
    assert int(active.digest, 16) >= 0
    assert set(BUILT_IN) == {"esmo2022-seed"}


def test_a_file_overrides_fields_and_gets_a_name_and_hash_of_its_own(tmp_path: Path) -> None:
    unnamed = load_profile(str(write(tmp_path / "site-b.json", {"resume_review_due_days": 10})))
    assert unnamed.profile.resume_review_due_days == 10
    assert unnamed.name == "esmo2022-seed+site-b"
    named = load_profile(str(write(tmp_path / "p.json", {"name": "site-b-2026", "oneoff_due_days": 10})))
    assert named.name == "site-b-2026"
    assert len({unnamed.digest, named.digest, profile_hash(DEFAULT_PROFILE)}) == 3
    active = Settings(env="test", profile=str(tmp_path / "p.json")).active_profile
    assert (active.name, active.digest) == (named.name, named.digest)


def test_the_hash_covers_every_field_nested_ones_included() -> None:
    base = profile_hash(DEFAULT_PROFILE)
    assert profile_hash(dataclasses.replace(DEFAULT_PROFILE)) == base  # content, not identity
    monitoring = {drug: dict(kinds) for drug, kinds in DEFAULT_PROFILE.monitoring.items()}
    monitoring["imatinib"]["lab_lft"] = FixedSchedule(days=(0,), then_every_months=2)
    assert profile_hash(dataclasses.replace(DEFAULT_PROFILE, monitoring=monitoring)) != base
    step = dataclasses.replace(DEFAULT_PROFILE.small_gastric_eus, starts_on_day_zero=True)
    assert profile_hash(dataclasses.replace(DEFAULT_PROFILE, small_gastric_eus=step)) != base
    for field in dataclasses.fields(DEFAULT_PROFILE):
        value = getattr(DEFAULT_PROFILE, field.name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            changed = dataclasses.replace(DEFAULT_PROFILE, **{field.name: value + 1})
            assert profile_hash(changed) != base, field.name
    # a whole number plans alike as 3 or 3.0, so it hashes alike
    same = dataclasses.replace(DEFAULT_PROFILE, regorafenib_liver_weekly_above_uln=3)
    assert profile_hash(same) == base


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


def test_an_unknown_name_is_refused() -> None:
    with pytest.raises(ProfileError, match="neither a built-in profile"):
        load_profile("esmo2099")


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
