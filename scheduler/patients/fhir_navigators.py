"""The practitioner → navigator table of the FHIR shells, read from the file ``GIST_FHIR_NAVIGATORS``
(or ``--navigators FILE``) names.

Two formats, told by the suffix:

* ``.json``: a list of ``{"system": …, "value": …, "navigator_id": …}`` objects;
* ``.csv``: UTF-8 with the header ``system,value,navigator_id`` and one practitioner per line
  (blank lines and lines starting with ``#`` are skipped).

``system`` and ``value`` are an identifier of the EHR's Practitioner (its NPI, its local staff
number), as the CareTeam participant's reference, the Practitioner or the PractitionerRole carry
it. Each row is checked by :func:`scheduler.fhir.navigators.navigator_table`; a bad file raises
:class:`NavigatorFileError`, one line naming the file, the row (JSON index or CSV line) and field.

Whether each navigator id is an active navigator account is known only when an import runs
(accounts come and go while the table stays): the import reviews a CareTeam whose navigator has
no account, and :meth:`NavigatorFile.without_account` names such rows for a warning at start.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from scheduler.fhir import FhirError
from scheduler.fhir.navigators import NavigatorTable, navigator_table

HEADER: Final = ("system", "value", "navigator_id")
MAX_BYTES: Final = 8 * 1024 * 1024
_ROW = re.compile(r"^rows\[(\d+)\](?:\.(\w+))?$")


class NavigatorFileError(ValueError):
    """The navigator file cannot be used: one line naming the file, where in it and what is wrong."""


@dataclass(frozen=True, slots=True)
class NavigatorFile:
    """A checked navigator table and where in its file each navigator id first appears."""

    path: Path
    table: NavigatorTable
    rows: Mapping[str, str]  # navigator id → "[2].navigator_id" (JSON) or "line 4 navigator_id" (CSV)

    def without_account(self, accounts: Collection[str]) -> list[str]:
        """One line per navigator id of the file that is not in ``accounts`` (the active navigator
        accounts' ids), naming the file and row."""
        return [
            f"{self.path}: {where}: {navigator!r} is not an active navigator account; "
            "CareTeams naming it are left for review"
            for navigator, where in self.rows.items()
            if navigator not in accounts
        ]


def load_navigators(path: Path) -> NavigatorFile:
    """The checked table in ``path`` (``.json`` or ``.csv``); ``NavigatorFileError`` otherwise."""
    if path.suffix.lower() not in (".json", ".csv"):
        raise NavigatorFileError(f"{path}: a navigator table is a .json or .csv file")
    try:
        raw = path.read_bytes()[: MAX_BYTES + 1]
    except OSError as exc:
        raise NavigatorFileError(f"{path}: cannot read it ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise NavigatorFileError(f"{path}: larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NavigatorFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return _json(path, text) if path.suffix.lower() == ".json" else _csv(path, text)


def _json(path: Path, text: str) -> NavigatorFile:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NavigatorFileError(
            f"{path}: line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    try:
        table = navigator_table(obj, "")
    except FhirError as exc:
        where = exc.where or "the file"
        raise NavigatorFileError(f"{path}: {where}: {exc.problem}") from None
    return NavigatorFile(path, table, _rows(obj, lambda index: f"[{index}].navigator_id"))


def _rows(rows: Sequence[Mapping[str, str]], where: Callable[[int], str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for index, row in enumerate(rows):
        found.setdefault(row["navigator_id"], where(index))
    return found


def _csv(path: Path, text: str) -> NavigatorFile:
    rows: list[dict[str, str]] = []
    lines: list[int] = []
    header: list[str] | None = None
    reader = csv.reader(io.StringIO(text))
    try:
        for record in reader:
            line = reader.line_num
            if not record or not "".join(record).strip() or record[0].lstrip().startswith("#"):
                continue
            cells = [cell.strip() for cell in record]
            if header is None:
                if tuple(cells) != HEADER:
                    raise NavigatorFileError(
                        f"{path}: line {line}: the header must be {','.join(HEADER)} (got {','.join(cells)})"
                    )
                header = cells
                continue
            if len(cells) != len(HEADER):
                raise NavigatorFileError(
                    f"{path}: line {line}: {len(cells)} fields, expected {len(HEADER)} ({','.join(HEADER)})"
                )
            rows.append(dict(zip(HEADER, cells, strict=True)))
            lines.append(line)
    except csv.Error as exc:
        raise NavigatorFileError(f"{path}: line {reader.line_num}: {exc}") from None
    if header is None:
        raise NavigatorFileError(f"{path}: empty (expected the header {','.join(HEADER)})")
    try:
        table = navigator_table(rows, "rows")
    except FhirError as exc:
        found = _ROW.match(exc.where)
        if found is None:
            raise NavigatorFileError(f"{path}: {exc.problem}") from None
        field = f" {found.group(2)}" if found.group(2) else ""
        raise NavigatorFileError(f"{path}: line {lines[int(found.group(1))]}{field}: {exc.problem}") from None
    return NavigatorFile(path, table, _rows(rows, lambda index: f"line {lines[index]} navigator_id"))
