"""The vocabularies of the stored rows beside their statuses (:mod:`models.statuses`), one enum
each: the single source for the Python that reads and writes them. The values are the stored
strings, so the database and the JSON and HTTP contract read exactly as before.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """A user's role (``users.role``): a ``navigator`` sees the patients assigned to their
    ``navigator_id``; ``clinician``, ``admin`` and ``integration`` (a hospital system's account)
    see every patient (scheduler/staff/access.py)."""

    NAVIGATOR = "navigator"
    CLINICIAN = "clinician"
    ADMIN = "admin"
    INTEGRATION = "integration"


class Audience(StrEnum):
    """Whom an outbox row is for (``notifications.audience``): the core's ``Audience``
    (scheduler/domain/notices.py) as stored."""

    PATIENT = "patient"
    NAVIGATOR = "navigator"


class NotificationKind(StrEnum):
    """What an outbox row tells (``notifications.kind``): a reminder's notice stage (the core's
    ``Stage``: ``advance``, ``due``, ``overdue``), that it ``moved`` or was cancelled
    (``cancel``: both to a patient who holds its invitation), or a navigator's daily ``digest``."""

    ADVANCE = "advance"
    DUE = "due"
    OVERDUE = "overdue"
    MOVED = "moved"
    CANCEL = "cancel"
    DIGEST = "digest"


# Patient emails that carry a calendar invitation (a REQUEST).
INVITING_KINDS: Final = (NotificationKind.ADVANCE, NotificationKind.DUE, NotificationKind.MOVED)


class FeedScope(StrEnum):
    """Whose reminders a calendar feed serves (``feeds.scope``): one patient's, or every reminder of
    a navigator's patients."""

    PATIENT = "patient"
    NAVIGATOR = "navigator"
