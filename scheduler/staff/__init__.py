"""Use cases of the care team: accounts, sign-in and access, API tokens, the audit trail, the
navigator's worklist."""
