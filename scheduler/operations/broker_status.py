"""The broker's side of ``status``: how many messages wait in our queue (Redis only, directly or
through Sentinel)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from scheduler.config.settings import Settings

if TYPE_CHECKING:
    import redis

QUEUE = "gistsched"  # tasks.base.QUEUE, named here so the status needs no Celery import
TIMEOUT_SECONDS = 2


def broker_queue_length(settings: Settings) -> int | None:
    """Messages waiting in the Redis queue; None for the embedded broker or when unreachable."""
    if not is_redis_broker(settings):
        return None
    import redis

    try:
        client = broker_client(settings)
        try:
            return int(client.llen(QUEUE))
        finally:
            client.close()
    except redis.RedisError:
        return None


def is_redis_broker(settings: Settings) -> bool:
    url = settings.broker_url or ""
    return url.startswith(("redis://", "rediss://", "sentinel://"))


def broker_client(settings: Settings) -> redis.Redis:
    """A client of the broker's Redis (:func:`is_redis_broker`): from the URL, or the master the
    Sentinels name now. As kombu does, the first ``sentinel://`` entry's password and ``/db`` are
    the master's."""
    import redis
    from redis.sentinel import Sentinel

    url = settings.broker_url or ""
    if not settings.broker_sentinels:
        return redis.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
        )
    assert settings.redis_sentinel_master is not None  # the settings refuse sentinels without it
    first = urlsplit(url.split(";", 1)[0])
    db = first.path.strip("/")
    sentinels = Sentinel(
        list(settings.broker_sentinels),
        socket_connect_timeout=TIMEOUT_SECONDS,
        socket_timeout=TIMEOUT_SECONDS,
    )
    master: redis.Redis = sentinels.master_for(
        settings.redis_sentinel_master,
        db=int(db) if db.isdigit() else 0,
        password=unquote(first.password) if first.password else None,
        username=unquote(first.username) if first.username else None,
        socket_connect_timeout=TIMEOUT_SECONDS,
        socket_timeout=TIMEOUT_SECONDS,
    )
    return master
