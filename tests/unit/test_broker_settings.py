"""GIST_BROKER_URL and GIST_REDIS_SENTINEL_MASTER: which broker settings are accepted, what the
refusals say (the setting by name, never a password), and what the Celery configuration gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from scheduler.config.settings import Settings
from tasks.base import REDIS_VISIBILITY_TIMEOUT_SECONDS, celery_config


def settings(broker_url: str | None, master: str | None = None, **extra: Any) -> Settings:
    return Settings(
        env="test",
        data_dir=Path("/nonexistent"),
        broker_url=broker_url,
        redis_sentinel_master=master,
        **extra,
    )


# (broker URL, master, the Sentinels it names)
ACCEPTED = [
    ("sentinel://10.0.0.1:26379", "mymaster", (("10.0.0.1", 26379),)),
    ("sentinel://s1:26379;sentinel://s2:26380;sentinel://s3", "mymaster",
     (("s1", 26379), ("s2", 26380), ("s3", 26379))),
    ("sentinel://:secret@s1:26379/2;sentinel://s2:26379/2", "gist-broker.1", (("s1", 26379), ("s2", 26379))),
    ("sentinel://user:secret@[::1]:26379", "m", (("::1", 26379),)),
    ("redis://redis:6379/0", None, ()),
    ("rediss://:pw@redis:6380/1", None, ()),
    (None, None, ()),
]  # fmt: skip


@pytest.mark.parametrize(("url", "master", "sentinels"), ACCEPTED)
def test_accepted_broker_settings(url: str | None, master: str | None, sentinels: tuple[Any, ...]) -> None:
    loaded = settings(url, master)
    assert loaded.broker_sentinels == sentinels
    assert loaded.broker_transport_options == ({"master_name": master} if master else {})


# (broker URL, master, words the refusal must hold)
REFUSED = [
    ("sentinel://s1:26379;sentinel://s2:26379", None, ["GIST_REDIS_SENTINEL_MASTER", "GIST_BROKER_URL"]),
    ("sentinel://s1:26379", "", ["redis_sentinel_master"]),
    ("sentinel://s1:26379", "my master", ["redis_sentinel_master"]),
    ("redis://redis:6379/0", "mymaster", ["GIST_REDIS_SENTINEL_MASTER is set", "not a list of sentinel://"]),
    (None, "mymaster", ["GIST_REDIS_SENTINEL_MASTER is set"]),
    ("sentinel://s1:26379;", "m", ["GIST_BROKER_URL: entry 2", "no ';' at the end"]),
    ("redis://s1:6379;sentinel://s2:26379", "m", ["GIST_BROKER_URL: entry 1", "'redis://s1:6379'"]),
    ("sentinel://s1:26379;redis://:hunter2@s2:6379", "m", ["entry 2", "redis://:***@s2:6379"]),
    ("sentinel://s1:99999", "m", ["entry 1", "not a Sentinel address"]),
    ("sentinel://:26379", "m", ["entry 1", "not a Sentinel address"]),
]  # fmt: skip


@pytest.mark.parametrize(("url", "master", "words"), REFUSED)
def test_refused_broker_settings_say_which_setting(
    url: str | None, master: str | None, words: list[str]
) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(url, master)
    message = str(refused.value)
    for word in words:
        assert word in message
    assert "hunter2" not in message


def test_production_accepts_a_sentinel_broker() -> None:
    loaded = Settings(
        env="production",
        database_url="postgresql://gist@db/gist",
        broker_url="sentinel://s1:26379;sentinel://s2:26379",
        redis_sentinel_master="mymaster",
        smtp_url="smtp://mail:25",
        base_url="https://gist.example.org",
    )
    assert len(loaded.broker_sentinels) == 2


@pytest.mark.parametrize(
    ("url", "master", "options"),
    [
        ("sentinel://s1:26379;sentinel://s2:26379", "mymaster", {"master_name": "mymaster"}),
        ("redis://redis:6379/0", None, {}),
    ],
)
def test_celery_gets_the_master_name_beside_the_visibility_timeout(
    url: str, master: str | None, options: dict[str, str]
) -> None:
    config = celery_config(settings(url, master))
    assert config["broker_url"] == url
    assert (
        config["broker_transport_options"]
        == {"visibility_timeout": REDIS_VISIBILITY_TIMEOUT_SECONDS} | options
    )
