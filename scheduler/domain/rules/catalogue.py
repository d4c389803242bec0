"""Every reminder and alert rule with its id, one-line rationale and citation (clinical-rules.md).

Reminders and alerts copy ``rationale`` and ``citation`` from here, so a navigator always sees why
an item exists and which guideline rule made it. Ids are part of reminder keys: never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    rationale: str
    citation: str


ESMO = "Casali PG et al., ESMO–EURACAN–GENTURIS GIST guideline, Ann Oncol 2022;33:20"
NCCN = "NCCN Guidelines: Soft Tissue Sarcoma / GIST"
FOLLOW_UP = "Joensuu H et al., Eur J Cancer 2015 (follow-up after GIST surgery); " + ESMO
OSLO = "Nishida T et al., Ann Surg Oncol 2019 (Oslo rupture criteria); " + ESMO
SSG_XVIII = "Joensuu H et al., JAMA 2012 (SSG XVIII: 3 vs 1 year adjuvant imatinib); " + ESMO
BFR14 = "Blay JY et al., J Clin Oncol 2007 (BFR14: interruption of imatinib); " + ESMO
GLEEVEC = "Gleevec (imatinib) US prescribing information"
SUTENT = "Sutent (sunitinib) US prescribing information"
STIVARGA = "Stivarga (regorafenib) US prescribing information, boxed warning and §5.1 hepatotoxicity"
QINLOCK = "Qinlock (ripretinib) US prescribing information"
AYVAKIT = "Ayvakit (avapritinib) US prescribing information"
GRID = "Demetri GD et al., Lancet 2013 (GRID); " + STIVARGA
INVICTUS = "Blay JY et al., Lancet Oncol 2020 (INVICTUS); " + QINLOCK

_RULES = (
    Rule(
        "risk.nih_modified",
        "Modified NIH consensus risk of recurrence after resection.",
        "Joensuu H, Hum Pathol 2008;39:1411",
    ),
    Rule(
        "risk.afip",
        "AFIP risk of progression by size, mitoses and site.",
        "Miettinen M, Lasota J, Semin Diagn Pathol 2006;23:70",
    ),
    Rule("stage", "Where the patient is on the care pathway.", ESMO),
    Rule(
        "workup.rectal",
        "Rectal GIST of any size: surveillance is inappropriate; biopsy or excise after endorectal "
        "ultrasound and pelvic MRI.",
        ESMO,
    ),
    Rule(
        "workup.small_gastric",
        "Gastric/duodenal nodule < 2 cm without tissue: EUS at 3 months, then every 6–12 months; "
        "growth means resection.",
        ESMO,
    ),
    Rule(
        "workup.tissue",
        "Tissue must confirm GIST (CD117/DOG1) before resection planning or a TKI; MDT plans the work-up.",
        ESMO,
    ),
    Rule(
        "workup.mutation",
        "KIT/PDGFRA mutational analysis is standard: it confirms the diagnosis, predicts drug "
        "sensitivity and guides dose.",
        ESMO + "; " + NCCN,
    ),
    Rule(
        "workup.bouin", "Bouin fixative prevents molecular analysis; ask for formalin-fixed material.", ESMO
    ),
    Rule("workup.rupture_unresected", "A ruptured tumour before surgery needs prompt MDT review.", OSLO),
    Rule(
        "adjuvant.indicated", "High-risk resected GIST: 3 years of adjuvant imatinib 400 mg/day.", SSG_XVIII
    ),
    Rule(
        "adjuvant.intermediate", "Intermediate risk: adjuvant imatinib is debated; decide at the MDT.", ESMO
    ),
    Rule(
        "adjuvant.rupture",
        "After tumour rupture adjuvant imatinib is mandatory; lifelong treatment may be considered.",
        OSLO,
    ),
    Rule(
        "adjuvant.duration",
        "Adjuvant imatinib is given for 3 years; review at 3 years whether to stop (after rupture, "
        "whether to continue).",
        SSG_XVIII,
    ),
    Rule(
        "adjuvant.kit_exon9",
        "KIT exon 9: imatinib 800 mg/day (evidence extrapolated from advanced disease).",
        ESMO,
    ),
    Rule(
        "advanced.kit_exon9",
        "KIT exon 9 in advanced disease: imatinib 800 mg/day improves progression-free survival.",
        ESMO,
    ),
    Rule("surveillance.very_low", "Very low risk: routine follow-up imaging is not needed.", FOLLOW_UP),
    Rule("surveillance.low", "Low risk: CT every 6–12 months for 5 years.", FOLLOW_UP),
    Rule(
        "surveillance.intermediate",
        "Intermediate risk: CT every 3–6 months for 5 years, then yearly to 10 years.",
        FOLLOW_UP,
    ),
    Rule(
        "surveillance.awaiting_pathology",
        "Resected but the pathology report is not in: CT every 3 months until risk is known.",
        FOLLOW_UP,
    ),
    Rule(
        "surveillance.high",
        "High risk off adjuvant therapy: CT every 3 months for 2 years, every 6 months to 5 years, "
        "then yearly to 10 years.",
        FOLLOW_UP,
    ),
    Rule("surveillance.high_adjuvant", "High risk on adjuvant imatinib: CT every 3–6 months.", FOLLOW_UP),
    Rule(
        "surveillance.ruptured",
        "Ruptured GIST: CT every 3–4 months for 3 years, every 6 months to 5 years, then yearly "
        "to 10 years (seed schedule; no primary source found).",
        OSLO,
    ),
    Rule(
        "advanced.imaging",
        "Advanced disease on treatment: CT every 3 months to detect progression early.",
        ESMO,
    ),
    Rule("advanced.lines", "Lines of treatment: imatinib, sunitinib, regorafenib, ripretinib.", ESMO),
    Rule(
        "advanced.first_line",
        "Advanced GIST: start imatinib 400 mg/day (800 for KIT exon 9; avapritinib for PDGFRA exon 18).",
        ESMO + "; " + AYVAKIT,
    ),
    Rule(
        "advanced.next_line",
        "Progression: escalate or move to the next line; focal progression may be treated locally.",
        ESMO + "; " + GRID + "; " + INVICTUS,
    ),
    Rule(
        "advanced.d842v",
        "PDGFRA D842V is resistant to imatinib; avapritinib is the option.",
        ESMO + "; " + AYVAKIT,
    ),
    Rule(
        "advanced.never_stop",
        "Stopping imatinib in advanced disease is followed by rapid progression.",
        BFR14,
    ),
    Rule(
        "advanced.cytoreduction",
        "Responding advanced disease: surgery of residual disease may be considered between "
        "6 months and 2 years of imatinib.",
        ESMO,
    ),
    Rule(
        "advanced.resume_after_surgery", "After surgery for advanced disease the TKI must be resumed.", ESMO
    ),
    Rule(
        "monitoring.imatinib",
        "Imatinib: blood counts weekly for the first month, then every 2 weeks, then every 3 months; "
        "liver tests monthly.",
        GLEEVEC,
    ),
    Rule(
        "monitoring.sunitinib",
        "Sunitinib: blood counts and liver tests each cycle, thyroid function every 3 months, baseline LVEF.",
        SUTENT,
    ),
    Rule(
        "monitoring.regorafenib",
        "Regorafenib: liver tests before starting, every 2 weeks for 2 months, then monthly; a "
        "visit each cycle.",
        STIVARGA,
    ),
    Rule(
        "monitoring.regorafenib_liver",
        "Regorafenib with ALT or AST > 3× ULN: liver tests weekly until below 3× ULN.",
        STIVARGA,
    ),
    Rule(
        "monitoring.imatinib_liver",
        "Imatinib with bilirubin > 3× or transaminases > 5× ULN: withhold, resume at a reduced dose.",
        GLEEVEC,
    ),
    Rule(
        "monitoring.ripretinib",
        "Ripretinib: skin examination at start and every 3 months (local policy), baseline LVEF.",
        QINLOCK,
    ),
    Rule(
        "monitoring.avapritinib",
        "Avapritinib: visits for bleeding and cognitive effects monthly, then every 3 months (local policy).",
        AYVAKIT,
    ),
    Rule("completion", "Which events fulfil which reminders.", ESMO),
)

RULES: dict[str, Rule] = {r.id: r for r in _RULES}
