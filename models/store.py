"""One engine per process and database URL, for the worker's tasks, the clock, the web server and
the demo (:func:`sessions_for`).

Creating an engine per task would open a connection pool per task. A forked child must not reuse
the parent's pooled connections (two processes on one socket corrupt each other's protocol
state): after ``fork`` the child drops the inherited pools without closing them, as SQLAlchemy's
pooling guide recommends (``Engine.dispose(close=False)``), and builds its own on first use.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine, make_sessionmaker
from scheduler.config.settings import Settings


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    engines: dict[str, tuple[Engine, sessionmaker[Session]]] = field(default_factory=dict)


_cache = _Cache()


def sessions_for(settings: Settings) -> sessionmaker[Session]:
    url = settings.resolved_database_url
    with _cache.lock:
        cached = _cache.engines.get(url)
        if cached is None:
            if url.startswith("sqlite"):
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            engine = make_engine(url)
            cached = _cache.engines[url] = (engine, make_sessionmaker(engine))
        return cached[1]


def dispose_all() -> None:
    """Close every cached pool (clean shutdown of a process)."""
    with _cache.lock:
        for engine, _ in _cache.engines.values():
            engine.dispose()
        _cache.engines.clear()


def _forget_after_fork() -> None:
    _cache.lock = threading.Lock()  # the parent may have held it while forking
    for engine, _ in _cache.engines.values():
        engine.dispose(close=False)
    _cache.engines.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
