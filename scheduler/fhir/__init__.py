"""FHIR R4 / mCODE adapter: Bundles in as contract events, plans out as FHIR (no database, no Celery)."""

from scheduler.fhir.bundle import MAX_ENTRIES, FhirError, load_json, read_sources
from scheduler.fhir.context import ImportResult, ReviewItem
from scheduler.fhir.importer import import_fhir

__all__ = [
    "MAX_ENTRIES",
    "FhirError",
    "ImportResult",
    "ReviewItem",
    "import_fhir",
    "load_json",
    "read_sources",
]
