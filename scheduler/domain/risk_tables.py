"""Risk tables (clinical-rules.md §2): modified NIH (Joensuu 2008) and AFIP (Miettinen & Lasota 2006).

Kept as data, not logic, so that a clinical lead can check each row against the printed table.
``scheduler.domain.risk`` evaluates them; the row ids ("nih.1" … "nih.11") appear in the plan so
every tier can be traced back to the published row that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from scheduler.domain.model import Tier


@dataclass(frozen=True, slots=True)
class RiskScheme:
    """A published risk scheme: the rule id the plan names, why it is used and where it comes from."""

    rule_id: str
    name: str
    rationale: str
    citation: str
    short_citation: str  # for one-line explanations


@dataclass(frozen=True, slots=True)
class NihRow:
    """One row of the modified NIH table; rows are evaluated top to bottom, first match wins."""

    id: str
    tier: Tier
    description: str

    @property
    def criteria(self) -> str:
        """The row's condition without its "→ tier" ending (for explanations that state the tier)."""
        return self.description.rsplit(" → ", 1)[0]


# Rule ids, rationales and citations match scheduler/domain/rules/catalogue.py word for word.
NIH_MODIFIED: Final = RiskScheme(
    rule_id="risk.nih_modified",
    name="modified NIH",
    rationale="Modified NIH consensus risk of recurrence after resection.",
    citation="Joensuu H, Hum Pathol 2008;39:1411",
    short_citation="Joensuu 2008",
)

AFIP: Final = RiskScheme(
    rule_id="risk.afip",
    name="AFIP",
    rationale="AFIP risk of progression by size, mitoses and site.",
    citation="Miettinen M, Lasota J, Semin Diagn Pathol 2006;23:70",
    short_citation="Miettinen & Lasota 2006",
)

# Modified NIH, in the published order (clinical-rules.md §2). Size bands: A ≤ 2.0, B 2.0 < s ≤ 5.0,
# C 5.0 < s ≤ 10.0, D > 10.0 cm; "gastric" means stomach only (GASTRIC_SITES).
NIH_ROWS: Final[list[NihRow]] = [
    NihRow("nih.1", "high", "tumour rupture, any size and mitoses → high"),
    NihRow("nih.2", "high", "> 10 cm, any mitoses → high"),
    NihRow("nih.3", "high", "> 10 mitoses/5 mm², any size → high"),
    NihRow("nih.4", "high", "> 5 cm and > 5 mitoses/5 mm² → high"),
    NihRow("nih.5", "high", "non-gastric, 2–5 cm, > 5 mitoses/5 mm² → high"),
    NihRow("nih.6", "high", "non-gastric, 5–10 cm, ≤ 5 mitoses/5 mm² → high"),
    NihRow("nih.7", "intermediate", "gastric, 2–5 cm, > 5 mitoses/5 mm² → intermediate"),
    NihRow("nih.8", "intermediate", "≤ 2 cm, 6–10 mitoses/5 mm², any site → intermediate"),
    NihRow("nih.9", "intermediate", "gastric, 5–10 cm, ≤ 5 mitoses/5 mm² → intermediate"),
    NihRow("nih.10", "low", "2–5 cm, ≤ 5 mitoses/5 mm², any site → low"),
    NihRow("nih.11", "very_low", "≤ 2 cm, ≤ 5 mitoses/5 mm², any site → very low"),
]

# Sites the modified NIH scheme treats as gastric; every other site (and an unknown one) is
# non-gastric, which is the conservative reading.
GASTRIC_SITES: Final = frozenset({"stomach"})

# AFIP: group → column → % with progressive disease; None = insufficient data in the published table.
# Groups: 1 ≤2 cm/≤5 mitoses, 2 >2–5/≤5, 3a >5–10/≤5, 3b >10/≤5, 4 ≤2/>5, 5 >2–5/>5, 6a >5–10/>5,
# 6b >10/>5. Column order as published; duodenum and jejunum/ileum are easily swapped in copies.
AFIP_TABLE: Final[dict[str, dict[str, float | None]]] = {
    "1": {"stomach": 0.0, "jejunum_ileum": 0.0, "duodenum": 0.0, "rectum": 0.0},
    "2": {"stomach": 1.9, "jejunum_ileum": 4.3, "duodenum": 8.3, "rectum": 8.5},
    "3a": {"stomach": 3.6, "jejunum_ileum": 24.0, "duodenum": None, "rectum": None},
    "3b": {"stomach": 12.0, "jejunum_ileum": 52.0, "duodenum": 34.0, "rectum": 57.0},
    "4": {"stomach": 0.0, "jejunum_ileum": 50.0, "duodenum": None, "rectum": 54.0},
    "5": {"stomach": 16.0, "jejunum_ileum": 73.0, "duodenum": 50.0, "rectum": 52.0},
    "6a": {"stomach": 55.0, "jejunum_ileum": 85.0, "duodenum": None, "rectum": None},
    "6b": {"stomach": 86.0, "jejunum_ileum": 90.0, "duodenum": 86.0, "rectum": 71.0},
}

# AFIP group by size band, for mitoses ≤ 5 and > 5.
AFIP_GROUP_LOW_MITOSES: Final[dict[str, str]] = {"A": "1", "B": "2", "C": "3a", "D": "3b"}
AFIP_GROUP_HIGH_MITOSES: Final[dict[str, str]] = {"A": "4", "B": "5", "C": "6a", "D": "6b"}

# Contract site → AFIP column. Only these four sites were tabulated; the rest have no AFIP data.
AFIP_COLUMN_BY_SITE: Final[dict[str, str | None]] = {
    "stomach": "stomach",
    "jejunum_ileum": "jejunum_ileum",
    "duodenum": "duodenum",
    "rectum": "rectum",
    "colon": None,
    "esophagus": None,
    "mesentery": None,
    "omentum": None,
    "peritoneum": None,
    "other": None,
}

# How the columns read in explanations.
AFIP_COLUMN_LABELS: Final[dict[str, str]] = {
    "stomach": "stomach",
    "jejunum_ileum": "jejunum/ileum",
    "duodenum": "duodenum",
    "rectum": "rectum",
}
