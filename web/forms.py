"""The dashboard's event forms (event-contract.md §1) and the words the pages use.

Each :class:`EventForm` is a table row: the contract event type it records and its fields, in the
order the page shows them. :func:`build_event` turns a submitted form into the contract's event
object (numbers converted, empty optional fields left out, never ``null``), so the same parser as
the API (``parse_event``) judges it; :func:`error_slot` maps an ``EventError.field`` such as
``data.value`` back to the input that holds it, so the problem is shown next to that input.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from models.statuses import OPEN_REMINDER_STATUSES

FORM_ERROR = "_form"  # the slot of an error that belongs to no single input

# ---- vocabulary --------------------------------------------------------------------------------

KIND_NAMES: dict[str, str] = {
    "ct": "CT scan",
    "mri": "MRI scan",
    "eus": "Endoscopic ultrasound",
    "lab_lft": "Liver tests (ALT, AST, bilirubin)",
    "lab_cbc": "Blood count",
    "lab_tsh": "Thyroid test (TSH)",
    "echo": "Echocardiogram",
    "skin_exam": "Skin examination",
    "biopsy": "Biopsy",
    "mutation_test": "Mutation test",
    "mdt_review": "MDT review",
    "therapy_review": "Therapy review",
    "clinic_visit": "Clinic visit",
}
SEVERITIES = ("critical", "warning", "info")
STATUS_NAMES: dict[str, str] = {
    "overdue": "Overdue",
    "due": "Due now",
    "planned": "Planned",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
OPEN_STATUSES = OPEN_REMINDER_STATUSES
STAGE_NAMES: dict[str, str] = {
    "workup": "Work-up",
    "small_tumour_surveillance": "Small-tumour surveillance",
    "neoadjuvant": "Neoadjuvant therapy",
    "adjuvant": "Adjuvant therapy",
    "post_treatment_surveillance": "Post-treatment surveillance",
    "advanced": "Advanced disease",
    "ended": "Follow-up ended",
}

WAIVER_REASONS: dict[str, str] = {  # reminder_waived's reasons, as the forms offer them
    "not_applicable": "Not applicable to this patient",
    "done_elsewhere": "Done elsewhere",
    "declined": "The patient declined it",
}
END_REASONS: dict[str, str] = {  # follow_up_ended's reasons, as the page offers them
    "discharged": "Discharged from follow-up",
    "transferred": "Transferred to another centre",
    "declined": "The patient declined further follow-up",
    "deceased": "The patient died",
}

DRUGS = ("imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib", "other")
Choices = tuple[tuple[str, str], ...]


def _same(*values: str) -> Choices:
    return tuple((value, value.replace("_", " ").capitalize()) for value in values)


# ---- forms ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FormField:
    name: str  # the key in the event's ``data``
    label: str
    widget: Literal["select", "number", "text", "textarea"]
    required: bool = False
    choices: Choices = ()
    hint: str = ""
    minimum: str | None = None
    maximum: str | None = None
    max_length: int | None = None
    tag: str = ""  # shown after the label instead of "(optional)"


@dataclass(frozen=True, slots=True)
class EventForm:
    name: str  # the ``form`` discriminator of POST /patients/{id}/events
    type: str  # the contract event type it records
    title: str  # "Record a …"
    date_label: str
    fields: tuple[FormField, ...]

    def input_id(self, field: str) -> str:
        return f"{self.name}-{field}"


_DRUG = FormField("drug", "Drug", "select", required=True, choices=_same(*DRUGS))
_DOSE = FormField(
    "dose_mg", "Dose (mg per day)", "number", required=True, minimum="0", maximum="2000", hint="e.g. 400"
)

FORMS: tuple[EventForm, ...] = (
    EventForm(
        "scan",
        "imaging",
        "Scan done",
        "Date of the scan",
        (
            FormField(
                "modality",
                "Modality",
                "select",
                required=True,
                choices=(("ct", "CT"), ("mri", "MRI"), ("eus", "Endoscopic ultrasound"), ("pet", "PET")),
            ),
            FormField(
                "result",
                "Result",
                "select",
                choices=_same(
                    "no_evidence_of_disease", "stable", "response", "progression", "growth", "new_lesion"
                ),
                hint="leave empty when the report is not in yet",
            ),
        ),
    ),
    EventForm(
        "lab",
        "lab_result",
        "Lab result",
        "Date of the blood test",
        (
            FormField(
                "test",
                "Test",
                "select",
                required=True,
                choices=(
                    ("alt", "ALT"),
                    ("ast", "AST"),
                    ("bilirubin", "Bilirubin"),
                    ("neutrophils", "Neutrophils"),
                    ("platelets", "Platelets"),
                    ("hemoglobin", "Haemoglobin"),
                    ("tsh", "TSH"),
                    ("lvef", "LVEF (echocardiogram)"),
                ),
            ),
            FormField("value", "Value", "number", required=True, minimum="0"),
            FormField(
                "uln",
                "Upper limit of normal",
                "number",
                minimum="0",
                hint="required for ALT, AST and bilirubin; same unit as the value",
                tag="(liver tests)",
            ),
        ),
    ),
    EventForm(
        "therapy_started",
        "therapy_started",
        "Therapy started",
        "Start date",
        (
            _DRUG,
            _DOSE,
            FormField(
                "setting",
                "Setting",
                "select",
                required=True,
                choices=(
                    ("neoadjuvant", "Neoadjuvant"),
                    ("adjuvant", "Adjuvant"),
                    ("advanced", "Advanced (metastatic or unresectable)"),
                ),
            ),
        ),
    ),
    EventForm(
        "therapy_stopped",
        "therapy_stopped",
        "Therapy stopped",
        "Stop date",
        (
            _DRUG,
            FormField(
                "reason",
                "Reason",
                "select",
                required=True,
                choices=_same("completed", "progression", "toxicity", "patient_choice", "other"),
            ),
        ),
    ),
    EventForm("dose_changed", "dose_changed", "Dose changed", "Date of the change", (_DRUG, _DOSE)),
    EventForm(
        "progression",
        "progression",
        "Progression",
        "Date progression was found",
        (FormField("pattern", "Pattern", "select", choices=_same("focal", "multifocal")),),
    ),
    EventForm(
        "mdt",
        "mdt_review",
        "MDT review held",
        "Date of the review",
        (FormField("decision", "Decision", "textarea", max_length=500, hint="at most 500 characters"),),
    ),
    EventForm(
        "visit",
        "visit",
        "Visit held",
        "Date of the visit",
        (
            FormField(
                "kind",
                "Kind of visit",
                "select",
                required=True,
                choices=(("clinic_visit", "Clinic visit"), ("skin_exam", "Skin examination")),
            ),
        ),
    ),
)
FORMS_BY_NAME: dict[str, EventForm] = {form.name: form for form in FORMS}

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")


def _number(text: str) -> int | float | str:
    """A number typed in a form: an integer stays an integer, a decimal comma is accepted; anything
    else is passed on as text, so the parser names the field ("must be a number (got 'abc')")."""
    try:
        if _INTEGER.fullmatch(text):
            return int(text)
        if _DECIMAL.fullmatch(text):
            return float(text.replace(",", "."))
    except (ValueError, OverflowError):  # thousands of digits: let the parser refuse it by name
        return text
    return text


def form_values(form: EventForm, submitted: Mapping[str, str]) -> dict[str, str]:
    """What the nurse typed, trimmed, by input name (re-shown when the form has an error)."""
    names = ("occurred_on", *(field.name for field in form.fields))
    return {name: str(submitted.get(name, "")).strip() for name in names}


def build_event(form: EventForm, patient_id: str, values: Mapping[str, str]) -> dict[str, Any]:
    """The contract's event object for a submitted form (``event_id`` new each time)."""
    data: dict[str, Any] = {}
    for field in form.fields:
        text = values.get(field.name, "")
        if not text:
            continue  # an optional field is left out, never null; a required one is reported missing
        data[field.name] = _number(text) if field.widget == "number" else text
    return {
        "event_id": f"web-{uuid.uuid4().hex}",
        "patient_id": patient_id,
        "type": form.type,
        "occurred_on": values.get("occurred_on", ""),
        "data": data,
    }


def error_slot(form: EventForm, field: str) -> str:
    """The input an ``EventError.field`` belongs to (``data.value`` → ``value``), or FORM_ERROR."""
    if field == "occurred_on":
        return "occurred_on"
    name = field.removeprefix("data.").split(".", 1)[0].split("[", 1)[0]
    if field.startswith("data.") and any(f.name == name for f in form.fields):
        return name
    return FORM_ERROR


def describe_data(data: Mapping[str, Any]) -> str:
    """A one-line summary of an event's data for the timeline: "test: alt · value: 31 · uln: 40"."""
    parts = []
    for key, value in data.items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else value
        if isinstance(shown, bool):
            shown = "yes" if shown else "no"
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    return " · ".join(parts)
