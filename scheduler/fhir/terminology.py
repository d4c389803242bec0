"""Every FHIR code the adapter reads or writes, each with a ``verified`` flag and its source.

``verified`` means the code was seen in an authoritative specification (the mCODE 4.0.0 package,
LOINC/SNOMED/HGNC usage in several independent HL7 implementation guides); unverified codes are
written from memory and need a terminologist's check before they are trusted. The importer may
*recognise* an unverified code (it is listed so a clinic's data is not silently ignored), but the
exporter writes one only when it is in ``WAIVERS`` (:func:`unwaived_codes` is the guard that tests
run on every exported Bundle). Codes of our own CodeSystem (``LOCAL``) are ours by definition.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

SNOMED: Final = "http://snomed.info/sct"
LOINC: Final = "http://loinc.org"
ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
ICDO3: Final = "http://terminology.hl7.org/CodeSystem/icd-o-3"
RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
HGNC_SYSTEMS: Final = frozenset({"http://www.genenames.org/geneId", "http://www.genenames.org"})
NCIT: Final = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
UCUM: Final = "http://unitsofmeasure.org"
MCODE_SD: Final = "http://hl7.org/fhir/us/mcode/StructureDefinition/"

# Our own canonical base (placeholder domain until the project owns one): local CodeSystems,
# extensions, the PlanDefinition and the identifier systems of exported resources.
BASE: Final = "https://gist-scheduler.example.org/fhir"
LOCAL: Final = f"{BASE}/CodeSystem/gist"
EXT_SETTING: Final = f"{BASE}/StructureDefinition/treatment-setting"
EXT_PROCEDURE_INTENT: Final = MCODE_SD + "mcode-procedure-intent"

MCODE = "mCODE 4.0.0 package (hl7.fhir.us.mcode, npm)"
SPEC = "fhir-mapping.md §1.1 (consistent public usage in several HL7 IGs)"
MEMORY = "from memory, not re-checked against the terminology release"


@dataclass(frozen=True, slots=True)
class Code:
    system: str
    code: str
    display: str
    verified: bool
    source: str

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}

    def concept(self) -> dict[str, Any]:
        return {"coding": [self.coding()], "text": self.display}


def local(code: str, display: str) -> Code:
    return Code(LOCAL, code, display, True, "gist-scheduler local CodeSystem")


def _v(system: str, code: str, display: str, source: str = SPEC) -> Code:
    return Code(system, code, display, True, source)


def _u(system: str, code: str, display: str) -> Code:
    return Code(system, code, display, False, MEMORY)


# --- import: what each code means for the event contract -------------------------------------

GIST_CONDITION: Final = (_v(SNOMED, "420120006", "Gastrointestinal stromal tumor"),)
GIST_MORPHOLOGY: Final = ("8936/3", "8936/1", "8936/0", "8936")  # ICD-O-3 histology codes
ICD10_GIST_PREFIX: Final = "C49.A"

# Site: ICD-O-3 topography and SNOMED body structures resolve a site; ICD-10-CM C49.A3/A0/A9 cannot.
SITE_CODES: Final[Mapping[tuple[str, str], str]] = {
    (ICD10CM, "C49.A1"): "esophagus",
    (ICD10CM, "C49.A2"): "stomach",
    (ICD10CM, "C49.A4"): "colon",
    (ICD10CM, "C49.A5"): "rectum",
    (ICDO3, "C17.0"): "duodenum",
    (ICDO3, "C17.1"): "jejunum_ileum",
    (ICDO3, "C17.2"): "jejunum_ileum",
    (ICDO3, "C20.9"): "rectum",
    (ICDO3, "C48.2"): "peritoneum",
    (SNOMED, "69695003"): "stomach",
    (SNOMED, "38848004"): "duodenum",
    (SNOMED, "21306003"): "jejunum_ileum",
    (SNOMED, "34516001"): "jejunum_ileum",
    (SNOMED, "34402009"): "rectum",
    (SNOMED, "71854001"): "colon",
    (SNOMED, "32849002"): "esophagus",
    (SNOMED, "27398004"): "omentum",
    (SNOMED, "67769001"): "mesentery",
    (SNOMED, "15425007"): "peritoneum",
}
SITE_PREFIXES: Final[Mapping[tuple[str, str], str]] = {  # ICD-O-3 topography by 3-character category
    (ICDO3, "C15"): "esophagus",
    (ICDO3, "C16"): "stomach",
    (ICDO3, "C18"): "colon",
}
SITE_VERIFIED: Final = frozenset({ICD10CM})  # the SNOMED and ICD-O-3 site codes are from memory

METASTASIS_SITES: Final[Mapping[tuple[str, str], str]] = {
    (ICD10CM, "C78.7"): "liver",
    (ICD10CM, "C78.6"): "peritoneum",
    (SNOMED, "10200004"): "liver",
    (SNOMED, "15425007"): "peritoneum",
}
SECONDARY_CANCER: Final = _v(SNOMED, "128462008", "Secondary malignant neoplastic disease")

TUMOR_SIZE: Final = _v(LOINC, "21889-1", "Size Tumor")
TUMOR_LONGEST: Final = _v(LOINC, "33728-7", "Size.maximum dimension in Tumor")
GROSS_PATHOLOGY: Final = _v(SNOMED, "787377000", "Gross pathology")
PATHOLOGY_REPORT: Final = _v(LOINC, "22637-3", "Pathology report final diagnosis Narrative")
DIAGNOSIS_METHODS: Final[Mapping[str, str]] = {
    "77477000": "imaging", "113091000": "imaging", "16310003": "imaging", "82918005": "imaging",
    "787377000": "surgery",
}  # fmt: skip

MITOTIC_COUNT: Final = local("mitotic-count", "Mitotic count of the tumour")
MITOSES_PER_10HPF: Final = _v(SNOMED, "406094009", "Number of mitoses per 10 high power fields")
MITOSIS_AREAS: Final[Mapping[str, str]] = {  # UCUM-style unit code → the area it is counted over
    "/5.mm2": "5mm2", "{mitoses}/5.mm2": "5mm2", "/(5.mm2)": "5mm2", "/50.HPF": "5mm2",
    "{mitoses}/50.HPF": "5mm2", "/10.HPF": "10hpf", "{mitoses}/10.HPF": "10hpf",
}  # fmt: skip
BIOPSY_RESULT: Final = local("biopsy-result", "Result of a diagnostic biopsy")
BIOPSY_RESULTS: Final = {"gist": "gist", "not-gist": "not_gist", "inadequate": "inadequate"}
HISTOLOGIC_TEST: Final = _v(SNOMED, "714797009", "Histologic test")  # Condition.evidence.code
# SDHB loss by immunohistochemistry: no LOINC or mCODE code was found (fhir-mapping.md §1.1), so
# the importer recognises our local code or the SDHB gene (HGNC:10681) as the Observation code and
# holds it for review; a loss of staining is a tumour marker result, not a variant.
SDHB_IHC: Final = Code(LOCAL, "sdhb-ihc", "SDHB immunohistochemistry", False,
                       "local placeholder: no verified LOINC/mCODE code for SDHB IHC")  # fmt: skip
SDHB_GENE: Final = "HGNC:10681"
TUMOR_MARKER_PROFILE: Final = MCODE_SD + "mcode-tumor-marker-test"
FIXATIVES: Final = {"formalin": "formalin", "bouin": "bouin", "other-fixative": "other"}
RUPTURE: Final = local("tumour-rupture", "Tumour rupture")
RUPTURE_CONTEXTS: Final = {"spontaneous": "spontaneous", "intraoperative": "intraoperative",
                           "perforation": "perforation"}  # fmt: skip
APPROACHES: Final = {"open-resection": "open", "laparoscopic-resection": "laparoscopic",
                     "endoscopic-resection": "endoscopic"}  # fmt: skip
SURGICAL_PROCEDURE_PROFILE: Final = MCODE_SD + "mcode-cancer-related-surgical-procedure"
MARGINS: Final[Mapping[str, str]] = {
    "1222638005": "R0", "1222639002": "R1", "1222640000": "R2",  # AJCC residual tumour
    "1352526005": "R0", "1352529003": "R1",  # UICC
}  # fmt: skip
CURATIVE, PALLIATIVE = "373808002", "363676003"

VARIANT: Final = _v(LOINC, "69548-6", "Genetic variant assessment")
GENE_STUDIED, DNA_REGION, PROTEIN_HGVS = "48018-6", "47999-8", "48005-3"
PRESENT, ABSENT = "LA9633-4", "LA9634-2"
GENES: Final[Mapping[str, str]] = {
    "HGNC:6342": "KIT", "HGNC:8803": "PDGFRA", "HGNC:10680": "SDH", "HGNC:10681": "SDH",
    "HGNC:10682": "SDH", "HGNC:10683": "SDH", "HGNC:7765": "NF1", "HGNC:1097": "BRAF",
    "HGNC:8031": "NTRK", "HGNC:8032": "NTRK", "HGNC:8033": "NTRK",
}  # fmt: skip

DRUGS: Final[Mapping[str, Code]] = {
    "282388": _v(RXNORM, "282388", "imatinib"),
    "357977": _v(RXNORM, "357977", "sunitinib"),
    "1312397": _u(RXNORM, "1312397", "regorafenib"),
}
SETTINGS: Final[Mapping[tuple[str, str], str]] = {
    (SNOMED, "373846009"): "adjuvant",
    (SNOMED, "373847000"): "neoadjuvant",
    (LOCAL, "advanced"): "advanced",
}
STOP_REASONS: Final[Mapping[str, str]] = {
    "407563006": "toxicity", "266721009": "progression", "105480006": "patient_choice",
}  # fmt: skip

DISEASE_STATUS: Final = _v(LOINC, "97509-4", "Cancer disease progression")
WORSENED: Final = "271299001"

# LOINC → (contract test, the unit the contract value is in, accepted units → factor to it).
LABS: Final[Mapping[str, tuple[str, Mapping[str, float]]]] = {
    "1742-6": ("alt", {"U/L": 1, "[IU]/L": 1, "IU/L": 1}),
    "1920-8": ("ast", {"U/L": 1, "[IU]/L": 1, "IU/L": 1}),
    "1975-2": ("bilirubin", {"mg/dL": 1, "umol/L": 1 / 17.1}),
    "751-8": ("neutrophils", {"10*9/L": 1, "10*3/uL": 1, "/uL": 0.001}),
    "26499-4": ("neutrophils", {"10*9/L": 1, "10*3/uL": 1, "/uL": 0.001}),
    "777-3": ("platelets", {"10*9/L": 1, "10*3/uL": 1}),
    "718-7": ("hemoglobin", {"g/dL": 1, "g/L": 0.1}),
    "3016-3": ("tsh", {"m[IU]/L": 1, "u[IU]/mL": 1, "mIU/L": 1}),
    "11580-8": ("tsh", {"m[IU]/L": 1, "u[IU]/mL": 1, "mIU/L": 1}),
    "10230-1": ("lvef", {"%": 1}),
}
LAB_BOUNDS: Final[Mapping[str, float]] = {  # above this a value is implausible: held for review
    "alt": 20000, "ast": 20000, "bilirubin": 100, "neutrophils": 100, "platelets": 3000,
    "hemoglobin": 30, "tsh": 500, "lvef": 100,
}  # fmt: skip

# Visits, MDT reviews, the end of follow-up and imaging reports (scheduler/fhir/care.py, imaging.py).
# Encounter.type and imaging DiagnosticReport.code accept the local codes the export writes for
# the matching reminder kinds, so an EHR can answer an order with the same code.
VISIT_KINDS: Final = ("clinic_visit", "skin_exam")  # local codes = the contract's visit kinds
MDT_REVIEW: Final = local("mdt_review", "Multidisciplinary team review")
MDT_OUTCOMES: Final[Mapping[str, str]] = {  # ClinicalImpression.finding local code → contract outcome
    f"mdt-{o.replace('_', '-')}": o for o in (
        "resect", "biopsy", "surveil", "start_therapy", "change_therapy", "continue", "stop_therapy", "other"
    )
}  # fmt: skip
EXT_END_REASON: Final = f"{BASE}/StructureDefinition/follow-up-end-reason"
END_REASONS: Final = ("deceased", "transferred", "discharged", "declined")  # local codes of the extension
DICOM: Final = "http://dicom.nema.org/resources/ontology/DCM"
DICOM_MODALITIES: Final[Mapping[str, str]] = {"CT": "ct", "MR": "mri", "PT": "pet"}  # "US" cannot tell EUS
IMAGING_REPORT_CODES: Final[Mapping[tuple[str, str], str]] = {
    (LOCAL, "ct"): "ct", (LOCAL, "mri"): "mri", (LOCAL, "eus"): "eus", (LOCAL, "pet"): "pet",
    (LOINC, "36813-4"): "ct",  # unverified (ORDER_CODES): recognised on import, never exported unwaived
}  # fmt: skip
RADIOLOGY_CATEGORIES: Final = frozenset({
    ("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD"),
    (LOINC, "LP29684-5"),  # US Core report category "Radiology"; from memory, not re-checked
})  # fmt: skip
IMAGING_RESULTS: Final[Mapping[tuple[str, str], str]] = {
    (SNOMED, "268910001"): "response",  # CancerDiseaseStatus improved
    (SNOMED, "359746009"): "stable",
    (SNOMED, WORSENED): "progression",
    (LOCAL, "no-evidence-of-disease"): "no_evidence_of_disease",
    (LOCAL, "response"): "response", (LOCAL, "stable"): "stable", (LOCAL, "progression"): "progression",
    (LOCAL, "growth"): "growth", (LOCAL, "new-lesion"): "new_lesion",
}  # fmt: skip

# --- export ----------------------------------------------------------------------------------

ORDER_CODES: Final[Mapping[str, tuple[Code, ...]]] = {
    "lab_lft": (_v(LOINC, "24325-3", "Hepatic function panel"),),
    "lab_cbc": (_v(LOINC, "58410-2", "CBC panel - Blood by Automated count"),),
    "lab_tsh": (_v(LOINC, "3016-3", "Thyrotropin [Units/volume] in Serum or Plasma"),),
    "echo": (_v(LOINC, "10230-1", "Left ventricular Ejection fraction"),),
    "ct": (_u(LOINC, "36813-4", "CT Abdomen and Pelvis W contrast IV"),),
}
RISK_VALUES: Final[Mapping[str, Code]] = {
    "very_low": _v(SNOMED, "260362008", "Very low risk"),
    "low": _v(SNOMED, "723505004", "Low risk"),
    "intermediate": _v(NCIT, "C102402", "Intermediate Risk"),
    "high": _v(SNOMED, "723509005", "High risk"),
}
RISK_CODE: Final = local("risk-nih-modified", "GIST risk of recurrence (modified NIH, Joensuu 2008)")
SEVERITY: Final = {"critical": "high", "warning": "moderate", "info": "low"}

# Unverified codes allowed out of the exporter anyway, each with the reason. Empty: none yet.
WAIVERS: Final[Mapping[tuple[str, str], str]] = {}


def order_codes(kind: str, display: str) -> list[dict[str, str]]:
    """Codings for a reminder kind: verified (or waived) standard codes, then our local code."""
    standard = [
        code.coding() for code in ORDER_CODES.get(kind, ())
        if code.verified or (code.system, code.code) in WAIVERS
    ]  # fmt: skip
    return [*standard, local(kind, display).coding()]


def _known() -> Iterator[Code]:
    yield from GIST_CONDITION
    yield from (SECONDARY_CANCER, TUMOR_SIZE, TUMOR_LONGEST, GROSS_PATHOLOGY, PATHOLOGY_REPORT)
    yield from (MITOSES_PER_10HPF, VARIANT, DISEASE_STATUS, HISTOLOGIC_TEST)
    yield from DRUGS.values()
    for codes in ORDER_CODES.values():
        yield from codes
    yield from RISK_VALUES.values()


VERIFIED: Final[Mapping[tuple[str, str], bool]] = {(c.system, c.code): c.verified for c in _known()}


def unwaived_codes(resource: object) -> list[str]:
    """Every coding in ``resource`` (a FHIR JSON value) that is neither ours, verified, nor waived.

    Codes outside this module count as unverified: the exporter must take every code from here.
    Structural code systems of FHIR itself (``http://hl7.org/fhir/…``, ``terminology.hl7.org``)
    are part of the specification and pass.
    """
    found: list[str] = []
    for coding in _codings(resource):
        system, code = str(coding.get("system", "")), str(coding.get("code", ""))
        if system.startswith((BASE, "http://hl7.org/fhir/", "http://terminology.hl7.org/")):
            continue
        if VERIFIED.get((system, code)) or (system, code) in WAIVERS:
            continue
        found.append(f"{system}|{code}")
    return found


def _codings(value: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        if "system" in value and "code" in value:
            yield value
        for item in value.values():
            yield from _codings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _codings(item)
