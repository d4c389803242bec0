"""Explain every line that differs between two golden dumps of ``plan_golden.py``.

    .venv/bin/python benchmarks/golden_diff.py OLD.jsonl NEW.jsonl

Each differing line (one plan, or one ``plan_patients`` call) is compared reminder by reminder (by
key) and alert by alert (by rule and code). Every difference is put in a named category — the
clinical-rules.md v4 change that explains it — and the script prints how many lines each category
touched, then every line with a difference no category explains (there should be none). The
categories are checked in order; a difference takes the first that fits.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Diff = dict[str, Any]  # {"what": "reminder"|"alert"|"risk"|"stage"|"therapy", "old": …, "new": …}

CHAINED = ("surveillance.", "advanced.imaging", "workup.small_gastric", "neoadjuvant.response")
NEW_RULES = {
    "workup.confirmed": "§4 workup.confirmed: a GIST confirmed on biopsy goes to MDT",
    "workup.small_gastric_initial": "§4 initial EUS for a small nodule found without EUS",
    "neoadjuvant.response": "§5a neoadjuvant response CT",
    "neoadjuvant.surgery_timing": "§5a neoadjuvant surgery-timing review",
    "advanced.mdt": "§7 advanced.mdt: an MDT review when the disease becomes advanced",
    "monitoring.imatinib_liver": "§8 held imatinib: weekly liver tests until recovery",
    "risk.after_neoadjuvant": "§1 risk after neoadjuvant therapy",
    "advanced.no_successor": "§7 advanced.no_successor",
}


def _category(diff: Diff) -> str | None:
    old, new = diff.get("old") or {}, diff.get("new") or {}
    rule = new.get("rule") or old.get("rule") or ""
    if diff["what"] in ("risk", "stage", "therapy"):
        return "§1 risk after neoadjuvant / §7 lines (risk, stage or therapy line)"
    if rule in NEW_RULES:
        return NEW_RULES[rule]
    if diff["what"] == "alert":
        return _alert_category(old, new)
    changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
    if old and new and changed <= {"last_done_on"}:
        return "contract v4: last_done_on on open items"
    if old and new and changed <= {"citation"}:
        return "§13 citations per recommendation"
    if old and new and changed <= {"rationale", "citation", "last_done_on"}:
        return "§13 rationales rewritten from the rule declarations (profile values, no claimed source)"
    if (new.get("missed") or 0) > 0 or new.get("overdue_since"):
        return "§9 a missed item is never silent (overdue_since, missed)"
    if rule.startswith(CHAINED):
        return (
            "§0 missed chained items superseded: a late scan fulfils the item current on its day, "
            "the chain counts on from the missed due dates (later ordinals shift); small-nodule "
            "chain from the initial EUS"
        )
    if changed and changed <= {"status", "cancelled_on", "last_done_on", "overdue_since", "missed"}:
        return "§0 missed items cancelled on the day they were superseded"
    if rule.startswith("workup."):
        return "§4 work-up: tissue ended by pathology or MDT resect decision; one review covers another"
    if rule.startswith("monitoring."):
        return "§8 held drugs keep liver monitoring; replaced regular liver tests omitted"
    if rule.startswith(("advanced.", "adjuvant.")):
        return "§7 lines kept across a hold; no cytoreduction after surgery; reviews"
    return None


def _alert_category(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    code = new.get("code") or old.get("code")
    if old and new and old.get("severity") == new.get("severity"):
        return "§5/§7/§13 alert messages and citations per recommendation"
    return {
        "adjuvant_indicated": "§5 the rupture alert replaces adjuvant_indicated",
        "adjuvant_unlikely_to_benefit": "§5 D842V during adjuvant therapy",
        "pdgfra_d842v_imatinib_resistant": "§5/§7 advanced.d842v in advanced disease only",
        "next_line_due": "§7 next line: recurrence after adjuvant, no successor, lines across a hold",
        "hepatotoxicity": "§8 held drugs keep the hepatotoxicity alert until recovery",
        "cytoreductive_surgery_window": "§7 no cytoreduction window after surgery",
        "risk_after_neoadjuvant": "§1 risk after neoadjuvant therapy",
        "kit_exon9_dose": "§5 KIT exon 9 message",
    }.get(code or "")


def _plans(line: dict[str, Any]) -> list[dict[str, Any]]:
    if "plan" in line:
        return [line["plan"]]
    return list(line.get("plans", []))


def _diffs(old: dict[str, Any], new: dict[str, Any]) -> Iterator[Diff]:
    old_plans = {p["patient_id"]: p for p in _plans(old)}
    new_plans = {p["patient_id"]: p for p in _plans(new)}
    for pid in old_plans.keys() | new_plans.keys():
        a, b = old_plans.get(pid, {}), new_plans.get(pid, {})
        for what in ("risk", "stage", "therapy"):
            if a.get(what) != b.get(what):
                yield {"what": what, "old": {}, "new": {}}
        yield from _keyed(a.get("reminders", []), b.get("reminders", []), "reminder", lambda r: r["key"])
        yield from _keyed(a.get("alerts", []), b.get("alerts", []), "alert", lambda x: (x["rule"], x["code"]))


def _keyed(old: list[Any], new: list[Any], what: str, key: Callable[[Any], Any]) -> Iterator[Diff]:
    before, after = {key(x): x for x in old}, {key(x): x for x in new}
    for k in before.keys() | after.keys():
        if before.get(k) != after.get(k):
            yield {"what": what, "old": before.get(k), "new": after.get(k)}


def main(old_path: Path, new_path: Path) -> int:
    lines_by_category: Counter[str] = Counter()
    unexplained: list[str] = []
    changed = total = 0
    with old_path.open(encoding="utf-8") as old_file, new_path.open(encoding="utf-8") as new_file:
        for number, (old_text, new_text) in enumerate(zip(old_file, new_file, strict=True), start=1):
            total += 1
            if old_text == new_text:
                continue
            changed += 1
            old, new = json.loads(old_text), json.loads(new_text)
            categories = set()
            for diff in _diffs(old, new):
                category = _category(diff)
                if category is None:
                    unexplained.append(f"line {number} ({new.get('case')}): {json.dumps(diff)[:400]}")
                else:
                    categories.add(category)
            lines_by_category.update(categories)
    print(f"{changed:,} of {total:,} lines differ")
    for category, count in lines_by_category.most_common():
        print(f"  {count:6,}  {category}")
    print(f"{len(unexplained)} differences no category explains")
    for text in unexplained[:20]:
        print("   ", text)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
