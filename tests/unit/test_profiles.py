"""Rule profiles by name: the built-in seed profile is the default, an unknown name is refused, and
the profile's content hash covers every field. (A profile file, and the commands given a bad one:
tests/integration/test_profile_files.py.)"""

from __future__ import annotations

import dataclasses

import pytest

from scheduler.config.profiles import BUILT_IN, ProfileError, load_profile, profile_hash
from scheduler.config.settings import Settings
from scheduler.domain.profile import DEFAULT_PROFILE, FixedSchedule


def test_the_default_is_the_built_in_seed_profile() -> None:
    active = Settings(env="test").active_profile
    assert active.profile is DEFAULT_PROFILE
    assert active.name == "esmo2022-seed" == active.source
    assert active.digest == profile_hash(DEFAULT_PROFILE)
    assert len(active.digest) == 16
    assert int(active.digest, 16) >= 0
    assert set(BUILT_IN) == {"esmo2022-seed"}


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


def test_an_unknown_name_is_refused() -> None:
    with pytest.raises(ProfileError, match="neither a built-in profile"):
        load_profile("esmo2099")
