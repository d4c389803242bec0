"""``ops.noop``: does nothing, so a benchmark can measure what the broker and worker cost alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.base import NOOP

if TYPE_CHECKING:
    from tasks.base import GistCelery


def noop() -> None:
    return None


def register(app: GistCelery) -> None:
    app.task(shared=False, name=NOOP)(noop)
