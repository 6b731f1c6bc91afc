"""Request and response bodies, as OpenAPI shows them at /docs.

The fields of the item forms are the core's item contract (`function.core.items`): a test
holds these schemas to its names. Requests are strict: a number where a string belongs, a
string where an offset belongs, or an unknown field is a 422, never silently coerced.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from function.core.model_folder import LABELS

# The labels as the core defines them (Literal takes them at run time; checkers see a str).
Label = Literal[LABELS]  # type: ignore[valid-type]
EXAMPLE = "Patient denies [entity] shortness of breath [entity] at rest."


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PredictRequest(_Request):
    sentence: str = Field(
        description="One sentence with the concept between two [entity] markers.",
        examples=[EXAMPLE],
    )


class BatchRequest(_Request):
    sentences: list[str] = Field(
        description="Marked sentences (at most MAX_BATCH_SIZE); answered in the same order.",
        examples=[[EXAMPLE, "Rule out [entity] pneumonia [entity]."]],
    )


class Span(_Request):
    start: int = Field(description="Offset of the concept's first character (Unicode code points).")
    end: int = Field(description="Offset one past the concept's last character.")


class SpansRequest(_Request):
    text: str = Field(
        description="Unmarked text; the service writes the markers around each span.",
        examples=["No fever, possible pneumonia."],
    )
    entities: list[Span] = Field(
        description="Concept spans (at most MAX_BATCH_SIZE), one model input each.",
        examples=[[{"start": 3, "end": 8}, {"start": 19, "end": 28}]],
    )


class EntityIn(_Request):
    start: int = Field(description="Offset of the concept's first character (in `offset_unit`).")
    end: int = Field(description="Offset one past the concept's last character.")
    label: str | None = Field(default=None, description="The NER tool's label, carried through.")
    id: str | int | None = Field(default=None, description="The NER tool's id, carried through.")


class FhirRefsIn(_Request):
    subject: str | None = Field(
        default=None, description="Who the conditions are about: Patient/ID or Group/ID (FHIR answers)."
    )
    document: str | None = Field(
        default=None, description="The note the text came from: DocumentReference/ID (FHIR answers)."
    )


class EntitiesRequest(_Request):
    """One document and the entities an NER step found in it, in one of four shapes: the
    generic `text` + `entities`, or `text` + a tool's response as it came
    (`comprehend_medical`, `healthcare_nl`), or a spaCy `Doc.to_json()` (`spacy`)."""

    id: str | None = Field(default=None, description="Your id for the document; echoed in the answer.")
    text: str | None = Field(default=None, description="The text the NER tool was given (not with `spacy`).")
    entities: list[EntityIn] | None = Field(default=None, description="Generic entity spans.")
    comprehend_medical: dict[str, Any] | None = Field(
        default=None,
        description="An Amazon Comprehend Medical DetectEntitiesV2 / InferICD10CM / InferRxNorm / "
        "InferSNOMEDCT response (its `Entities` are read).",
    )
    healthcare_nl: dict[str, Any] | None = Field(
        default=None,
        description="A Google Cloud Healthcare NL analyzeEntities response (its `entityMentions` are read).",
    )
    spacy: dict[str, Any] | None = Field(
        default=None, description="A spaCy or medspaCy `Doc.to_json()`: its `text` and `ents`."
    )
    entity_types: list[str] | None = Field(
        default=None,
        description="Keep only entities whose category, type or label is listed "
        "(e.g. MEDICAL_CONDITION, DX_NAME, PROBLEM).",
    )
    offset_unit: Literal["code_point", "utf16", "utf8"] | None = Field(
        default=None,
        description="What the offsets count: code points (the default, and what every tool above "
        "documents), UTF-16 units (JavaScript), or UTF-8 bytes.",
    )
    fhir: FhirRefsIn | None = Field(default=None, description="References for FHIR answers.")


class Scores(BaseModel):
    PRESENT: float
    ABSENT: float
    POSSIBLE: float


class ModelBlock(BaseModel):
    id: str = Field(description="Hub id of the model the answer came from.")
    revision: str = Field(description="Commit of the model repository that was baked.")
    backend: str = Field(description="How the numbers were computed: onnx, or torch (the reference).")
    precision: str = Field(
        description="int8 or fp32: the variant that serves, after its start-up check on this CPU."
    )


class PredictionOut(BaseModel):
    label: Label
    score: float = Field(description="Probability of the label.")
    scores: Scores = Field(description="Probabilities of all three labels (they sum to 1).")
    marked: bool = Field(
        description="False only for an unmarked sentence accepted under ALLOW_UNMARKED=true: "
        "the model was trained on marked input, so treat that answer as unreliable."
    )
    windowed: bool = Field(
        description="True when the input was longer than the model's window and the context "
        "around the concept was cut to fit."
    )


class PredictResponse(PredictionOut):
    model: ModelBlock


class BatchResponse(BaseModel):
    predictions: list[PredictionOut]
    model: ModelBlock


class EntityRef(BaseModel):
    index: int = Field(description="The entity's position in the list you sent (before any filter).")
    id: str | int | None = Field(default=None, description="Its id, where you or the tool gave one.")
    label: str | None = Field(default=None, description="Its label or type, where given.")
    category: str | None = Field(default=None, description="Its category (Comprehend Medical).")


class SpanPrediction(PredictionOut):
    start: int = Field(description="The entity's offsets as you sent them, in your unit.")
    end: int
    entity: EntityRef


class SpansResponse(BaseModel):
    predictions: list[SpanPrediction]
    model: ModelBlock


class EntitiesResponse(SpansResponse):
    id: str | None = None


class HealthModel(ModelBlock):
    labels: list[Label]
    max_length: int
    baked_at: str
    recipe: str = Field(description="How the serving variant was made (the manifest's recipe).")


class CpuInfo(BaseModel):
    model: str
    machine: str
    kind: str = Field(description="The family of int8 kernels this CPU gets, e.g. 'x86_64 AVX2, no VNNI'.")
    flags: list[str] = Field(description="The int8-relevant CPU features present.")
    exact_u8s8: bool = Field(
        default=False,
        description="Whether int8 products sum exactly here (VNNI or AMX): the int8 variant then "
        "serves its graph with int8 weights (model.int8.vnni.onnx).",
    )


class StartupCheck(BaseModel):
    variant: str
    graph: str = Field(
        default="",
        description="The graph file an ONNX variant ran: model.int8.vnni.onnx (int8 weights, on CPUs "
        "with VNNI or AMX), model.int8.onnx (the portable copy) or model.onnx.",
    )
    passed: bool
    excess: float = Field(
        description="Furthest a check answer moved from the fp32 reference beyond its distance at bake."
    )
    tolerance: float
    agreed: int = Field(description="Check labels that match the reference on this CPU.")
    agreed_at_bake: int
    sentences: int
    drift: float = Field(
        description="Largest difference from the bake's own answers (0 on the same kind of CPU)."
    )
    seconds: float


class HealthCheckReport(BaseModel):
    cpu: CpuInfo
    serving: StartupCheck = Field(description="The start-up check of the variant that serves.")
    failed: list[StartupCheck] = Field(
        description="Variants, or copies of a variant's graph, that failed their start-up check on "
        "this CPU and were passed over."
    )


class HealthResponse(BaseModel):
    status: Literal["ok"]
    version: str
    model: HealthModel
    startup_check: HealthCheckReport | None = None


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable reason.")
    message: str = Field(description="For humans; never repeats the request's text.")


class ErrorResponse(BaseModel):
    error: ErrorDetail
