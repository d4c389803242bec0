"""``GET /metrics``: Prometheus text exposition of :mod:`scheduler.operations.status`, read at scrape time.

Counts only — no patient id, name or clinical content — so it can be scraped from the internal
network without the API's bearer token."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from scheduler.config.settings import Settings
from scheduler.operations.broker_status import broker_queue_length
from scheduler.operations.status import Status, read_status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StatusCollector(Collector):
    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings, self.sessions = settings, sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.sessions() as session:
            status = read_status(session, broker_queue_length(self.settings), today=self.settings.today())
        yield from families(status)


def _gauge(name: str, documentation: str, value: float | None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float("nan") if value is None else value)


def _by(name: str, documentation: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def families(status: Status) -> Iterator[GaugeMetricFamily]:
    yield _gauge("gist_patients", "Patients stored", status.patients)
    yield _gauge("gist_patients_active", "Patients whose follow-up has not ended", status.active_patients)
    yield _gauge("gist_events", "Events stored", status.events)
    yield _gauge(
        "gist_events_unprocessed", "Events stored but not yet folded into a plan", status.events_unprocessed
    )
    yield _gauge(
        "gist_queue_lag_seconds",
        "Age of the oldest unprocessed event (NaN when none)",
        status.oldest_unprocessed_age_seconds,
    )
    yield _gauge(
        "gist_processing_failures_open",
        "Patients the worker could not process",
        status.processing_failures_open,
    )
    yield _by("gist_reminders", "Stored reminders by status", "status", status.reminders)
    yield _by("gist_alerts_active", "Active alerts by severity", "severity", status.alerts_active)
    yield _by("gist_notifications", "Outbox rows by status", "status", status.notifications)
    yield _gauge(
        "gist_notifications_oldest_sendable_seconds",
        "Age of the oldest email waiting to be sent (NaN when none)",
        status.oldest_sendable_age_seconds,
    )
    yield _gauge(
        "gist_plans_behind",
        "Active patients whose plan's recompute day passed before today without a recompute",
        status.plans_behind,
    )
    yield _gauge(
        "gist_broker_queue_length",
        "Messages waiting in the Redis queue (NaN: not Redis)",
        status.broker_queue_length,
    )


def render_metrics(settings: Settings, sessions: sessionmaker[Session]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(settings, sessions))
    return generate_latest(registry)
