"""gist-scheduler: guideline-driven follow-up for patients with GIST.

The pure core (``domain``), the use cases around it by feature (``patients``, ``notifications``,
``staff``, ``operations``), the pure FHIR mapping (``fhir``), the configuration (``config``) and the
composition root (``app``). README "Layout" has the map."""
