"""Use cases of a patient's record: intake of events (JSON and FHIR), processing (recompute and
reconcile), the stored plan, the patient list and record, failures, the unassigned queue."""
