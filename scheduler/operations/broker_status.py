"""The broker's side of ``status``: how many messages wait in our queue (Redis only)."""

from __future__ import annotations

from scheduler.config.settings import Settings

QUEUE = "gistsched"  # tasks.base.QUEUE, named here so the status needs no Celery import


def broker_queue_length(settings: Settings) -> int | None:
    """Messages waiting in the Redis queue; None for the embedded broker or when unreachable."""
    url = settings.broker_url
    if not url or not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            return int(client.llen(QUEUE))
        finally:
            client.close()
    except redis.RedisError:
        return None
