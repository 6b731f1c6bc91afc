"""Writes calibration.jsonl: synthetic clinical sentences, one marked concept each.

Written for this project (no patient data): templates crossed with concepts, covering
plain assertion, negation, hedging, family history, conditionals, history, and long
sentences whose concept sits far from the start. The bake uses the set to compare
exported variants with the fp32 reference; tests use it as realistic input and as the
corpus a test vocabulary is trained on. Deterministic: the same file every run.

    python model_bake/data/generate_calibration.py > model_bake/data/calibration.jsonl
"""

from __future__ import annotations

import json
import random
import sys

CONCEPTS = [
    "chest pain",
    "shortness of breath",
    "fever",
    "nausea",
    "vomiting",
    "abdominal pain",
    "headache",
    "dizziness",
    "syncope",
    "palpitations",
    "cough",
    "hemoptysis",
    "edema",
    "pneumonia",
    "pneumothorax",
    "pleural effusion",
    "myocardial infarction",
    "pulmonary embolism",
    "deep vein thrombosis",
    "urinary tract infection",
    "sepsis",
    "atrial fibrillation",
    "congestive heart failure",
    "diabetes mellitus",
    "hypertension",
    "rash",
    "weight loss",
    "night sweats",
    "melena",
    "hematuria",
    "dysuria",
    "jaundice",
    "seizure",
    "focal weakness",
    "confusion",
    "back pain",
    "joint swelling",
    "diarrhea",
    "constipation",
    "anemia",
    "renal failure",
    "cellulitis",
    "stroke",
    "lymphadenopathy",
]
TEMPLATES = {
    "PRESENT": [
        "The patient reports {c} since yesterday.",
        "She presented to the emergency department with {c}.",
        "Admitted for {c}, treated and improving.",
        "Exam is notable for {c}.",
        "He complains of worsening {c} over the past week.",
        "Imaging confirms {c}.",
        "Assessment: {c}.",
    ],
    "ABSENT": [
        "Patient denies {c}.",
        "No evidence of {c} on today's examination.",
        "He has no {c}.",
        "Negative for {c}.",
        "Without {c} or other acute findings.",
        "There is no sign of {c}.",
        "{C} was ruled out.",
    ],
    "POSSIBLE": [
        "Possible {c}.",
        "Findings may represent {c}.",
        "Cannot exclude {c} at this time.",
        "Concern for {c}, will follow up.",
        "Rule out {c}.",
        "Suspected {c}, awaiting further workup.",
        "Likely {c} versus a viral process.",
    ],
    None: [  # family history, conditionals: not the patient's present state
        "Mother has a history of {c}.",
        "Family history is significant for {c} in his father.",
        "Return to the emergency department if {c} develops.",
        "Instructed to call for any {c}.",
    ],
}
FILLER = (
    "Vital signs were reviewed and were within normal limits. The patient was seen and "
    "examined at the bedside with the family present. Medications were reconciled. "
)


def mark(template: str, concept: str) -> str:
    marked = f"[entity] {concept} [entity]"
    capital = f"[entity] {concept[0].upper()}{concept[1:]} [entity]"
    return template.replace("{C}", capital).replace("{c}", marked)


def rows() -> list[dict[str, object]]:
    rng = random.Random(20261126)
    out: list[dict[str, object]] = []
    for expected, templates in TEMPLATES.items():
        category = {"PRESENT": "present", "ABSENT": "negation", "POSSIBLE": "hedging"}.get(
            expected or "", "other"
        )
        for template in templates:
            for concept in rng.sample(CONCEPTS, 10):
                if expected is None:
                    category = "family" if "history" in template else "conditional"
                out.append({"sentence": mark(template, concept), "category": category, "expected": expected})
    for index in range(24):  # long: concept far from the start, some past BERT's window
        expected = ("PRESENT", "ABSENT", "POSSIBLE")[index % 3]
        template = rng.choice(TEMPLATES[expected])
        before = FILLER * (2 + index * 2)
        sentence = before + mark(template, rng.choice(CONCEPTS))
        out.append({"sentence": sentence, "category": "long", "expected": expected})
    for index, row in enumerate(out):
        row["id"] = f"cal-{index:04d}"
    return out


if __name__ == "__main__":
    for row in rows():
        sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")
