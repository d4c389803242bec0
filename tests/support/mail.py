"""What the email tests share: the words no patient email may use (``CLINICAL_WORDS``) and the
plain names of tests it may (``TEST_WORDS``), every kind of reminder, a due day, an envelope, the
calendar attachments, the clinic's contact details, and the bodies as a mail client shows them."""

from __future__ import annotations

import datetime as dt
import re
from email.message import EmailMessage

from notifications.labels import LABELS, label
from notifications.mail import Envelope

CLINICAL_WORDS = [
    "GIST", "gastrointestinal", "stromal", "tumour", "tumor", "cancer", "oncology", "sarcoma",
    "imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib", "Glivec", "Gleevec",
    "LFT", "ALT", "AST", "bilirubin", "CBC", "TSH", "echo", "echocardiogram",
    "EUS", "endoscopy", "mutation", "KIT", "PDGFRA", "exon", "D842V",
    "metasta", "progress", "recurren", "relapse", "biopsy", "MDT", "result", "diagnos",
    "toxicity", "drug", "therapy", "treatment", "dose", "resistan", "hepato",
]  # fmt: skip
# What the labels may say of a test, so that a patient knows which one to book: the kind of scan and
# the organ a blood test looks at, never why.
TEST_WORDS = ["CT", "MRI", "ultrasound", "liver", "thyroid", "heart", "skin"]
CLINICAL = re.compile(r"\b(?:" + "|".join(map(re.escape, CLINICAL_WORDS)) + r")", re.IGNORECASE)

ALL_KINDS = [*LABELS, "some_future_kind"]
PATIENT_KINDS = [kind for kind in ALL_KINDS if label(kind).patient_facing]
STAFF_ONLY_KINDS = [kind for kind in LABELS if not LABELS[kind].patient_facing]
DUE = dt.date(2027, 3, 12)
SENT = dt.datetime(2027, 3, 5, 8, 30, tzinfo=dt.UTC)
DASHBOARD = "https://gist.clinic.example/patients/P01"
REQUEST_ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
CANCEL_ICS = REQUEST_ICS.replace(b"METHOD:REQUEST", b"METHOD:CANCEL")
PATIENT = {"clinic_name": "Riverside Hospital follow-up team", "clinic_phone": "+44 1234 567890"}


def envelope(**changes: object) -> Envelope:
    fields: dict[str, object] = {
        "sender": "Follow-up team <noreply@clinic.example>",
        "to": ("patient@example.org",),
        "message_id": "<n-42.abc@gist-scheduler>",
        "date": SENT,
    }
    fields.update(changes)
    return Envelope(**fields)  # type: ignore[arg-type]


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies, as a client decodes them."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def untagged(html: str) -> str:
    """The HTML's text, as a reader sees it (tags dropped)."""
    return re.sub(r"<[^>]+>", "", html)


def clinical_words(text: str) -> list[str]:
    return CLINICAL.findall(text)
