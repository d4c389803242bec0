"""HTTP: the FastAPI application (health, metrics, calendar feeds), the JSON API, the FHIR routes
and the dashboard. It is handed its settings, sessions and queueing by the composition root
(:mod:`scheduler.app.wiring`) and imports no broker."""
