"""gist-scheduler: guideline-driven follow-up for patients with GIST."""
