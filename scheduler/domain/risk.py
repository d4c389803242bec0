"""Risk assessment (clinical-rules.md §2): modified NIH tier and AFIP group for one tumour.

The tables live in ``scheduler.domain.risk_tables``; this module only evaluates them, top to bottom
as published. Inputs are assumed validated by the contract layer (size > 0, mitoses ≥ 0); a NaN is
rejected rather than silently banded.
"""

from __future__ import annotations

from typing import Literal

from scheduler.domain.model import RiskAssessment
from scheduler.domain.risk_tables import (
    AFIP,
    AFIP_COLUMN_BY_SITE,
    AFIP_COLUMN_LABELS,
    AFIP_GROUP_HIGH_MITOSES,
    AFIP_GROUP_LOW_MITOSES,
    AFIP_TABLE,
    GASTRIC_SITES,
    NIH_MODIFIED,
    NIH_ROWS,
    NihRow,
)

SizeBand = Literal["A", "B", "C", "D"]

_R1, _R2, _R3, _R4, _R5, _R6, _R7, _R8, _R9, _R10, _R11 = NIH_ROWS
_NIH_ROW_BY_ID = {row.id: row for row in NIH_ROWS}


def size_band(size_cm: float) -> SizeBand:
    """Published size band: A ≤ 2.0, B ≤ 5.0, C ≤ 10.0, D > 10.0 cm (a boundary is in the lower band).

    Note the management rules use "< 2 cm" on purpose (clinical-rules.md §1); this is for risk only.
    """
    if size_cm <= 2.0:
        return "A"
    if size_cm <= 5.0:
        return "B"
    if size_cm <= 10.0:
        return "C"
    if size_cm > 10.0:
        return "D"
    raise ValueError(f"size_cm must be a number, got {size_cm!r}")


def _nih_row(size_cm: float | None, mitoses: int | None, gastric: bool, ruptured: bool) -> NihRow | None:
    """The first modified-NIH row that matches, in published order (None: not assessable yet)."""
    if ruptured:
        return _R1
    if size_cm is None or mitoses is None:
        return None
    if size_cm > 10.0:
        return _R2
    if mitoses > 10:
        return _R3
    if size_cm > 5.0 and mitoses > 5:
        return _R4
    if not gastric and 2.0 < size_cm <= 5.0 and mitoses > 5:
        return _R5
    if not gastric and 5.0 < size_cm <= 10.0 and mitoses <= 5:
        return _R6
    if gastric and 2.0 < size_cm <= 5.0 and mitoses > 5:
        return _R7
    if size_cm <= 2.0 and 5 < mitoses <= 10:
        return _R8
    if gastric and 5.0 < size_cm <= 10.0 and mitoses <= 5:
        return _R9
    if 2.0 < size_cm <= 5.0 and mitoses <= 5:
        return _R10
    if size_cm <= 2.0 and mitoses <= 5:
        return _R11
    # The rows cover every real size and count, so only a NaN gets here.
    raise ValueError(f"size_cm and mitoses must be numbers, got {size_cm!r} and {mitoses!r}")


def assess_risk(
    size_cm: float | None, mitoses_per_5mm2: int | None, site: str | None, ruptured: bool
) -> RiskAssessment:
    """Both risk schemes for one tumour.

    An unknown ``site`` (None) counts as non-gastric for NIH — never under-estimating risk — and
    has no AFIP column. The AFIP group needs size and mitoses but not a tabulated site, so it is
    given even where the percentage is null; rupture raises the NIH tier only, as published.
    """
    gastric = site in GASTRIC_SITES
    row = _nih_row(size_cm, mitoses_per_5mm2, gastric, ruptured)
    column = AFIP_COLUMN_BY_SITE.get(site) if site is not None else None

    group: str | None = None
    pct: float | None = None
    if size_cm is not None and mitoses_per_5mm2 is not None:
        band = size_band(size_cm)
        group = (AFIP_GROUP_LOW_MITOSES if mitoses_per_5mm2 <= 5 else AFIP_GROUP_HIGH_MITOSES)[band]
        if column is not None:
            pct = AFIP_TABLE[group][column]

    return RiskAssessment(
        nih_modified=row.tier if row is not None else None,
        afip_group=group,
        afip_progression_pct=pct,
        ruptured=ruptured,
        nih_row=row.id if row is not None else None,
        afip_column=column,
        size_cm=size_cm,
        mitoses_per_5mm2=mitoses_per_5mm2,
        site=site,
    )


def explain(risk: RiskAssessment) -> str:
    """One readable line naming the rows that applied, for alert messages and the dashboard.

    e.g. "high — nih.5: non-gastric, 2–5 cm, > 5 mitoses/5 mm² (Joensuu 2008); AFIP group 5: 73 %
    progression (jejunum/ileum, Miettinen & Lasota 2006)".
    """
    nih_src = NIH_MODIFIED.short_citation
    afip_src = AFIP.short_citation

    row = _NIH_ROW_BY_ID.get(risk.nih_row) if risk.nih_row is not None else None
    if row is not None:
        nih = f"{row.tier.replace('_', ' ')} — {row.id}: {row.criteria} ({nih_src})"
    else:
        nih = f"NIH: not assessable, size or mitoses unknown ({nih_src})"

    group = risk.afip_group
    if group is None:
        afip = f"AFIP: not assessable, size or mitoses unknown ({afip_src})"
    elif risk.afip_column is None:
        afip = f"AFIP: no data for {risk.site or 'unknown site'} (group {group}, {afip_src})"
    else:
        label = AFIP_COLUMN_LABELS[risk.afip_column]
        pct = risk.afip_progression_pct
        if pct is None:
            afip = f"AFIP group {group}: insufficient data ({label}, {afip_src})"
        else:
            afip = f"AFIP group {group}: {pct:g} % progression ({label}, {afip_src})"
    return f"{nih}; {afip}"
