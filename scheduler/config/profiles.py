"""The rule profile a service runs with (``GIST_PROFILE``, ``gistsched plan --profile``).

A profile is named by a built-in name (:data:`BUILT_IN`) or by the path of a JSON file of
overrides applied to the default with ``Profile.with_overrides`` (scalar fields only; a bad file
is refused with the field's name). Every stored plan records the profile's name and its content
hash (:func:`profile_hash`), so a plan can be traced to the exact numbers that made it and the
clock can tell which patients were planned under another profile.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scheduler.domain.profile import DEFAULT_PROFILE, Profile

BUILT_IN: Mapping[str, Profile] = {DEFAULT_PROFILE.name: DEFAULT_PROFILE}
HASH_LENGTH = 16  # hex digits of the SHA-256 kept: enough to tell profiles apart, short to show


class ProfileError(ValueError):
    """A profile that cannot be used: the message names the file and the field."""


@dataclass(frozen=True)
class LoadedProfile:
    """A profile with where it came from and its content hash."""

    profile: Profile
    source: str  # the built-in name or the file's path, as given
    digest: str

    @property
    def name(self) -> str:
        return self.profile.name


def load_profile(spec: str) -> LoadedProfile:
    """The built-in profile named ``spec``, or the default with the overrides of the JSON file at
    ``spec``. A file that does not rename the profile gets ``<default>+<file stem>`` as its name,
    so that a stored plan never shows the default's name for other numbers."""
    spec = spec.strip()
    if not spec:
        raise ProfileError("is empty: give a built-in profile name or the path of a JSON file")
    built_in = BUILT_IN.get(spec)
    if built_in is not None:
        return LoadedProfile(built_in, spec, profile_hash(built_in))
    path = Path(spec)
    if not path.suffix and not path.exists():
        raise ProfileError(f"{spec!r} is neither a built-in profile ({', '.join(BUILT_IN)}) nor a file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read {spec}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{spec} is not UTF-8 text") from None
    try:
        overrides = json.loads(text)
    except ValueError as exc:
        raise ProfileError(f"{spec}: not valid JSON ({exc})") from None
    if not isinstance(overrides, dict):
        raise ProfileError(f"{spec}: must hold a JSON object of profile fields")
    if "name" not in overrides:
        overrides = {"name": f"{DEFAULT_PROFILE.name}+{path.stem}"[:64], **overrides}
    try:
        profile = DEFAULT_PROFILE.with_overrides(overrides)
    except ValueError as exc:
        raise ProfileError(f"{spec}: {exc}") from None
    return LoadedProfile(profile, spec, profile_hash(profile))


def profile_hash(profile: Profile) -> str:
    """The first :data:`HASH_LENGTH` hex digits of the SHA-256 of the profile's canonical JSON:
    every field, nested dataclasses, mappings and tuples included (walked generically, so fields
    added to the profile are covered without a change here)."""
    canonical = json.dumps(_plain(profile), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:HASH_LENGTH]


def _plain(value: Any) -> Any:
    """JSON-ready form of a profile value. A whole number is written as an integer whether the
    field holds ``3`` or ``3.0``: the two plan alike, so they hash alike."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list | frozenset | set):
        items = [_plain(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, frozenset | set) else items
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() else float(value)
    raise TypeError(f"profile value of type {type(value).__name__} cannot be hashed: {value!r}")
