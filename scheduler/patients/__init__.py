"""Use cases of a patient's record: intake of events (JSON and FHIR), FHIR pull and push with a
FHIR server, processing (recompute and reconcile), the stored plan, the patient list and record,
failures, the unassigned queue."""
