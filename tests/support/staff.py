"""The clinic's pinned day and its staff: one definition for every test that signs someone in.

:data:`AS_OF` is the day every integration test plans on (the example cohort and the synthetic
histories end before it); :data:`STAFF` the users the API, dashboard and security tests share.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy.orm import Session, sessionmaker

from scheduler.staff.users import create_user

AS_OF = dt.date(2026, 11, 27)
PASSWORD = "correct horse battery"
STAFF: dict[str, tuple[str, str | None]] = {  # username: (role, navigator_id)
    "ana": ("navigator", "nav-ana"),  # P01, P03, P05, P07
    "ben": ("navigator", "nav-ben"),  # P02, P04, P06, P08
    "cleo": ("clinician", None),
    "ada": ("admin", None),
}


def create_staff(
    sessions: sessionmaker[Session], users: Mapping[str, tuple[str, str | None]] = STAFF
) -> dict[str, str]:
    """Create ``users`` (all with :data:`PASSWORD`); username → API token."""
    return {
        name: create_user(sessions, name, role, PASSWORD, navigator_id).token
        for name, (role, navigator_id) in users.items()
    }
