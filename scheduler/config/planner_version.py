"""The planner's version: a hash of the pure core's source (every ``.py`` file of
``scheduler/domain``), recorded with each stored plan beside the profile's hash.

The clock recomputes a patient only when an event arrives or the plan's change day comes, so a
release that changes the rules would otherwise leave plans made by the old rules in place until
then. A stored plan whose planner hash is not the running one is recomputed like one made under
another profile (:mod:`scheduler.operations.clock_jobs`). Any edit of the core counts, comments
included: a needless recompute costs minutes of worker time, a missed one a wrong reminder.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import scheduler.domain

HASH_LENGTH = 16


@cache
def planner_hash() -> str:
    """The first :data:`HASH_LENGTH` hex digits of the SHA-256 over the core's files, by path."""
    root = Path(scheduler.domain.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:HASH_LENGTH]
