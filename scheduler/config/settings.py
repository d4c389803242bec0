"""Settings from the environment (event-contract.md §3): the only module that reads it.

Defaults give the embedded mode — a SQLite file and a broker that needs no server, both under
``GIST_DATA_DIR`` (``./var``) — so ``make demo`` runs on a bare machine. Production sets
``GIST_ENV=production``, which refuses those development defaults.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scheduler.config.profiles import LoadedProfile, ProfileError, load_profile

PHONE = re.compile(r"\+?\(?[0-9][0-9 ()./-]*[0-9]")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GIST_", extra="ignore", frozen=True)

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = None  # default: sqlite:///<data_dir>/gistsched.sqlite3
    broker_url: str | None = None  # default: an embedded filesystem broker under <data_dir>/broker
    # A Redis broker behind Sentinel: GIST_BROKER_URL lists the Sentinels,
    # "sentinel://host1:26379;sentinel://host2:26379" (a password and /db on the first apply to the
    # master), and this names the master they watch (the name in their `sentinel monitor` line).
    redis_sentinel_master: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    smtp_url: str | None = None
    # Links in emails and feed URLs (no trailing slash needed); the default is where `gistsched serve`
    # and `gistsched run` listen by default.
    base_url: str = "http://127.0.0.1:8000"
    clock_interval_seconds: float = Field(default=60.0, gt=0)
    stalled_after_seconds: float = Field(default=300.0, gt=0)
    clinic_timezone: str = "UTC"  # the clinic's calendar: "today" for plans and statuses
    daily_recompute_at: dt.time = dt.time(2, 0)  # clinic local time
    # Which active patients the daily run recomputes: "due", those whose plan can change that day
    # (patient_states.recompute_on) — statuses that the date alone moves are set by one UPDATE —;
    # "all", every active patient every day (a fallback, and the baseline bench-scale compares with).
    daily_recompute: Literal["due", "all"] = "due"
    worker_concurrency: int = Field(default=2, ge=1, le=64)
    worker_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # Celery node name
    task_max_retries: int = Field(default=5, ge=0, le=50)
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line, for log shippers
    # Notifications. Without GIST_SMTP_URL emails are written as .eml files to mail_folder.
    mail_from: str = "Follow-up team <noreply@gist-scheduler.invalid>"
    mail_folder: Path | None = None  # default: <data_dir>/mail
    clinic_name: str = "Your care team"  # the signature of patient emails
    # The number patient emails give to book or change an item ("please call us on …"); without
    # it they say "please contact your care team". Checked by _valid_phone.
    clinic_phone: str | None = None
    notify_max_attempts: int = Field(default=10, ge=1, le=100)  # transient failures, with backoff
    notify_retry_first_seconds: float = Field(default=30.0, gt=0)  # then doubling per attempt
    notify_retry_max_seconds: float = Field(default=3600.0, gt=0)  # the longest wait between attempts
    notify_stale_seconds: float = Field(
        default=600.0, gt=0
    )  # a queued/sending email left this long is re-queued
    digest_at: dt.time = dt.time(7, 0)  # clinic local time of the navigators' daily digest
    # Pins the clinic's date (demos, tests, replays): every plan is computed as of this day.
    as_of: dt.date | None = None
    # The rule profile every plan and notice uses: a built-in name or a JSON file of overrides
    # (scheduler/config/profiles.py); loaded and checked once, when the settings are.
    profile: str = "esmo2022-seed"
    _loaded_profile: LoadedProfile | None = PrivateAttr(default=None)
    # Access (docs/security.md). A dashboard session ends after this long without a request, and
    # in any case SESSION_LIFETIME (12 h) after sign-in.
    session_idle_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    # GET /metrics answers the client addresses or networks listed here (comma-separated), and any
    # client that sends ``Authorization: Bearer <GIST_METRICS_TOKEN>``; everyone else gets 403.
    metrics_allow: str = "127.0.0.1,::1"
    metrics_token: str | None = Field(default=None, min_length=16)
    # `gistsched fhir pull|push` (scheduler/patients/fhir_sync.py): the bearer token sent to the FHIR server
    # (an RFC 6750 token: letters, digits and -._~+/ then optional '='), the timeout of one request,
    # and how far back before the last pull's server time the next incremental pull starts reading
    # (search indexes lag; what is read twice is a duplicate).
    fhir_token: str | None = Field(
        default=None, min_length=8, max_length=4096, pattern=r"^[A-Za-z0-9._~+/-]+=*$"
    )
    fhir_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    fhir_sync_overlap_seconds: float = Field(default=300.0, ge=0, le=7 * 86400)
    # The practitioner → navigator table of FHIR imports (`fhir import`, `fhir pull`, POST
    # /fhir/Bundle): a .json or .csv file, read and checked by scheduler/patients/fhir_navigators.py
    # when those start. Without it an imported CareTeam sets no navigator (a review item).
    fhir_navigators: Path | None = None
    # The identifier system of our patient ids on the FHIR server `fhir push` writes to: the pushed
    # resources name their Patient by the conditional reference Patient?identifier=<system>|<id>.
    # Unset: `Patient/<id>`, our id taken as the server's own Patient id (checked before writing).
    fhir_patient_system: str | None = Field(default=None, min_length=1, max_length=1000)

    @field_validator("fhir_navigators", "fhir_patient_system", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("fhir_patient_system")
    @classmethod
    def _valid_system(cls, value: str | None) -> str | None:
        """An identifier system is a URI: no spaces, no ``|`` (it separates system and value)."""
        if value is not None and (not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s|]+", value)):
            raise ValueError(
                f"GIST_FHIR_PATIENT_SYSTEM: {value!r} is not a URI without spaces or '|' "
                "(e.g. https://clinic.example.org/fhir/gist-patient-id)"
            )
        return value

    @field_validator("clinic_phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        """A number as people write it: digits with spaces, dashes, dots, slashes or brackets, an
        optional leading +, and 5 to 15 digits (E.164's most)."""
        if value is None or not value.strip():
            return None
        value = " ".join(value.split())
        digits = sum(c.isdigit() for c in value)
        if not PHONE.fullmatch(value) or not 5 <= digits <= 15:
            raise ValueError(
                f"GIST_CLINIC_PHONE: {value!r} is not a phone number (digits, spaces, - . / ( ), "
                "an optional leading +; 5 to 15 digits), e.g. +44 1234 567890"
            )
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production_defaults(self) -> Settings:
        if self.env == "production":
            missing = [
                name
                for name, value in (
                    ("GIST_DATABASE_URL", self.database_url),
                    ("GIST_BROKER_URL", self.broker_url),
                    ("GIST_SMTP_URL", self.smtp_url),  # .eml files in a folder reach nobody
                )
                if not value
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)} must be set when GIST_ENV=production")
            if self.database_url and self.database_url.startswith("sqlite"):
                raise ValueError("GIST_DATABASE_URL: SQLite is for development; use PostgreSQL in production")
            if self.as_of is not None:
                raise ValueError("GIST_AS_OF pins the date for demos and tests; unset it in production")
            if not self.base_url.startswith("https://"):
                raise ValueError(
                    "GIST_BASE_URL: must start with https:// when GIST_ENV=production "
                    "(feed URLs carry a token and session cookies must be Secure)"
                )
        ZoneInfo(self.clinic_timezone)  # fails early on a bad zone name
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("GIST_BASE_URL: must start with http:// or https://")
        try:
            self._loaded_profile = load_profile(self.profile)
        except ProfileError as exc:
            raise ValueError(f"GIST_PROFILE: {exc}") from None
        _ = self.metrics_networks  # fails early on a bad GIST_METRICS_ALLOW entry
        _ = self.broker_sentinels  # fails early on a bad sentinel:// list or a missing master name
        return self

    @property
    def active_profile(self) -> LoadedProfile:
        """The profile ``GIST_PROFILE`` names, as loaded when these settings were."""
        assert self._loaded_profile is not None  # set by the validator
        return self._loaded_profile

    @cached_property
    def metrics_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """``metrics_allow`` parsed: addresses become one-address networks."""
        networks = []
        for entry in (part.strip() for part in self.metrics_allow.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"GIST_METRICS_ALLOW: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8)"
                ) from None
        return tuple(networks)

    @cached_property
    def broker_sentinels(self) -> tuple[tuple[str, int], ...]:
        """The (host, port) of each Sentinel a ``sentinel://`` GIST_BROKER_URL lists (port 26379
        when none is given); empty for any other broker."""
        url = self.broker_url or ""
        if "sentinel://" not in url:
            if self.redis_sentinel_master is not None:
                raise ValueError(
                    "GIST_REDIS_SENTINEL_MASTER is set but GIST_BROKER_URL is not a list of "
                    "sentinel:// URLs (e.g. sentinel://host1:26379;sentinel://host2:26379)"
                )
            return ()
        sentinels = tuple(_sentinel(part, n) for n, part in enumerate(url.split(";"), 1))
        if self.redis_sentinel_master is None:
            raise ValueError(
                "GIST_BROKER_URL lists Redis Sentinels: set GIST_REDIS_SENTINEL_MASTER to the name of "
                "the master they watch (the name in their `sentinel monitor` line, e.g. mymaster)"
            )
        return sentinels

    @property
    def broker_transport_options(self) -> dict[str, str]:
        """What a connection to the broker needs beyond its URL: the Sentinel master's name for a
        ``sentinel://`` list (kombu's ``master_name``); nothing for any other broker."""
        if self.redis_sentinel_master is None:
            return {}
        return {"master_name": self.redis_sentinel_master}

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gistsched.sqlite3').resolve()}"

    @cached_property
    def resolved_mail_folder(self) -> Path:
        return (self.mail_folder or self.data_dir / "mail").resolve()

    @property
    def is_embedded_broker(self) -> bool:
        return not self.broker_url

    @cached_property
    def broker_folder(self) -> Path:
        return (self.data_dir / "broker").resolve()

    def today(self, now: dt.datetime | None = None) -> dt.date:
        """The clinic's current date (at ``now``, an aware time; default the real clock): the as-of
        date of every plan the shells compute. ``GIST_AS_OF`` pins it."""
        if self.as_of is not None:
            return self.as_of
        return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(self.clinic_timezone)).date()

    def local_time(self, now: dt.datetime | None = None) -> dt.time:
        """The clinic's wall-clock time (for ``daily_recompute_at``)."""
        return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(self.clinic_timezone)).time()


def _sentinel(part: str, n: int) -> tuple[str, int]:
    """Entry ``n`` of a ``sentinel://[:password@]host[:port][/db];…`` GIST_BROKER_URL, as (host,
    port); the error names the entry without its password."""
    parsed = urlsplit(part.strip())
    try:
        port = parsed.port or 26379
    except ValueError:
        port = 0
    if parsed.scheme != "sentinel" or not parsed.hostname or not port:
        shown = part.strip().replace(parsed.password, "***") if parsed.password else part.strip()
        raise ValueError(
            f"GIST_BROKER_URL: entry {n} ({shown!r}) is not a Sentinel address: each ';'-separated "
            "entry must be sentinel://host[:port], with no ';' at the end"
        )
    return parsed.hostname, port


def load_settings() -> Settings:
    return Settings()
