"""Round trip: synthetic histories written as FHIR (``benchmarks/fhir_twins.py``) import back as the
same events, for every event type the synthetic cohort has (what FHIR cannot carry aside)."""

from __future__ import annotations

import json
from collections import Counter

from benchmarks.fhir_twins import fhir_twin
from benchmarks.synthetic import synthetic_histories
from scheduler.domain.events import parse_event
from scheduler.fhir import import_fhir, read_sources


def test_fhir_twins_of_synthetic_histories_import_back_as_their_events() -> None:
    types: Counter[str] = Counter()
    for history in synthetic_histories(80, seed=3):
        bundle, expected = fhir_twin(history)
        read_sources(bundle)  # every resource is valid R4
        result = import_fhir(json.loads(json.dumps(bundle)))
        patient = history[0]["patient_id"]
        got = sorted(((e.type, e.occurred_on.isoformat(), e.data) for e in result.events), key=repr)
        want = sorted(
            (
                (
                    kind,
                    day,
                    parse_event(
                        {
                            "event_id": "x",
                            "patient_id": patient,
                            "type": kind,
                            "occurred_on": day,
                            "data": data,
                        }
                    ).data,
                )
                for kind, day, data in expected
            ),
            key=repr,
        )
        assert got == want, patient
        assert all("drug not recognised" in item.reason for item in result.review)  # ripretinib, avapritinib
        types.update(e.type for e in result.events)
    assert set(types) >= {
        "patient_registered",
        "diagnosis",
        "biopsy",
        "pathology",
        "mutation",
        "resection",
        "therapy_started",
        "therapy_stopped",
        "imaging",
        "progression",
        "metastasis",
        "lab_result",
        "visit",
        "mdt_review",
    }
