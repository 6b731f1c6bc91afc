"""The FastAPI app: routes and wiring. Business rules live in the core; this file maps HTTP
onto it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from function import __version__
from function.api.auth import AuthMiddleware
from function.api.body_guard import BodyGuardMiddleware
from function.api.disconnect import unless_disconnected
from function.api.errors import RETRY_AFTER_SECONDS, error_body, install_error_handlers
from function.api.openapi_rules import publish_rules
from function.api.request_log import RequestLogMiddleware
from function.api.schemas import (
    BatchRequest,
    BatchResponse,
    EntitiesRequest,
    EntitiesResponse,
    ErrorResponse,
    HealthResponse,
    PredictRequest,
    PredictResponse,
    SpansRequest,
    SpansResponse,
)
from function.core import fhir, items
from function.core.classifier import AssertionClassifier, Prediction, Prepared
from function.core.errors import InputError, ModelNotReady
from function.core.logs import PredictionTally
from function.core.model_folder import LABELS
from function.startup.service import ServiceState

DESCRIPTION = """
Classifies ONE clinical concept per input as PRESENT, ABSENT (negated) or POSSIBLE (hedged),
with `bvanaken/clinical-assertion-negation-bert`. Mark the concept with two `[entity]`
markers (`Patient denies [entity] SOB [entity].`), or send text with character offsets to
`/predict/spans` and the service writes the markers, or send what your NER tool answered
(Amazon Comprehend Medical, Google Healthcare NL, spaCy, or generic spans) to
`/predict/entities`. Any prediction route answers a FHIR R4 Bundle of Conditions with
`?format=fhir` or `Accept: application/fhir+json`. Unmarked input is outside what the
model was trained on and is refused unless the service runs with `ALLOW_UNMARKED=true`.

Errors share one shape, `{"error": {"code", "message"}}`; messages never repeat the input.
When API keys are configured, every route but `/health` needs `X-API-Key: KEY` or
`Authorization: Bearer KEY`.
"""

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        400: "Malformed JSON",
        401: "Missing or invalid API key",
        413: "Body larger than MAX_BODY_BYTES",
        415: "Body is not JSON",
        422: "Invalid request (code says which rule)",
        503: "Model not loaded yet, or the inference queue is full (with Retry-After)",
    }.items()
}

# Each route's body fields, for the message that names them when a body has others.
BODY_FIELDS = {
    "/predict": tuple(PredictRequest.model_fields),
    "/predict/batch": tuple(BatchRequest.model_fields),
    "/predict/spans": tuple(SpansRequest.model_fields),
    "/predict/entities": tuple(EntitiesRequest.model_fields),
}
FHIR_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {fhir.MEDIA_TYPE: {"schema": {"type": "object", "description": "A FHIR R4 Bundle"}}},
        "description": "JSON, or with ?format=fhir (or Accept: application/fhir+json) a FHIR R4 Bundle "
        "of Conditions (?bundle_type=transaction for a transaction)",
    }
}


def wants_fhir(request: Request) -> str | None:
    """The Bundle type the caller asked for, or None for our JSON."""
    answer_format = request.query_params.get("format")
    if answer_format not in (None, "json", "fhir"):
        raise InputError("bad_format", "format must be json or fhir")
    accept = request.headers.get("accept", "")
    if answer_format == "fhir" or (answer_format is None and fhir.MEDIA_TYPE in accept):
        return fhir.check_bundle_type(request.query_params.get("bundle_type"), "bundle_type")
    return None


def fhir_response(
    answered: Sequence[fhir.Answered], classifier: AssertionClassifier, bundle_type: str, threshold: float
) -> JSONResponse:
    body = fhir.bundle(
        answered,
        classifier.info,
        seed=str(uuid.uuid4()),
        bundle_type=bundle_type,
        low_confidence_threshold=threshold,
    )
    return JSONResponse(body, media_type=fhir.MEDIA_TYPE)


def create_app(state: ServiceState) -> FastAPI:
    settings = state.settings
    app = FastAPI(
        title="Clinical assertion classification",
        version=__version__,
        description=DESCRIPTION,
        responses=ERRORS,
    )
    install_error_handlers(app, BODY_FIELDS)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            publish_rules(
                FastAPI.openapi(app),
                max_items=settings.max_batch_size,
                allow_unmarked=settings.allow_unmarked,
            )
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    # Added innermost first: the request log wraps auth, which wraps the body guard.
    app.add_middleware(
        BodyGuardMiddleware, max_body_bytes=settings.max_body_bytes, body_paths=frozenset(BODY_FIELDS)
    )
    app.add_middleware(AuthMiddleware, keys=state.api_keys)
    app.add_middleware(RequestLogMiddleware, project_id=settings.project_id, labels=LABELS)

    def record(request: Request, predictions: Sequence[Prediction]) -> None:
        entry: PredictionTally = request.state.record
        entry.add(predictions, settings.low_confidence_threshold)

    async def infer(
        request: Request, classifier: AssertionClassifier, prepared: Prepared
    ) -> list[Prediction]:
        """Run a prepared request, noting in its log line how many inputs were waiting."""
        entry: PredictionTally = request.state.record
        entry.queue_depth = classifier.pending
        predictions = await unless_disconnected(request.receive, classifier.infer(prepared))
        record(request, predictions)
        return predictions

    @app.get("/health", response_model=HealthResponse, responses={503: {"model": ErrorResponse}})
    async def health() -> Any:
        """200 with the model's identity once it is loaded; 503 before."""
        try:
            classifier = await run_in_threadpool(state.require_classifier)
        except ModelNotReady:
            body = {"status": "loading", **error_body("not_ready", "the model is not loaded yet")}
            return JSONResponse(body, status_code=503, headers={"Retry-After": RETRY_AFTER_SECONDS})
        manifest = classifier.manifest
        check = state.check
        return {
            "status": "ok",
            "version": __version__,
            "model": {
                **classifier.info.as_dict(),
                "labels": list(manifest.labels),
                "max_length": manifest.max_length,
                "baked_at": manifest.created_at,
                "recipe": classifier.variant.recipe.get("name", ""),
            },
            "startup_check": None
            if check is None
            else {
                "cpu": check.cpu.as_dict(),
                "serving": check.as_dict(),
                "failed": [failed.as_dict() for failed in state.failed_checks],
            },
        }

    @app.post("/predict", response_model=PredictResponse, responses=FHIR_ANSWER)
    async def predict(body: PredictRequest, request: Request) -> Any:
        """Classify one marked sentence."""
        bundle_type = wants_fhir(request)
        classifier = state.require_classifier()
        item = items.SentenceItem(body.sentence)
        prepared = await run_in_threadpool(
            partial(items.prepare, allow_unmarked=settings.allow_unmarked), classifier, item
        )
        predictions = await infer(request, classifier, prepared)
        if bundle_type:
            answered = [fhir.Answered("", item, predictions)]
            return fhir_response(answered, classifier, bundle_type, settings.low_confidence_threshold)
        return {**predictions[0].as_dict(), "model": classifier.info.as_dict()}

    @app.post("/predict/batch", response_model=BatchResponse, responses=FHIR_ANSWER)
    async def predict_batch(body: BatchRequest, request: Request) -> Any:
        """Classify marked sentences; predictions come back in input order."""
        bundle_type = wants_fhir(request)
        classifier = state.require_classifier()
        items.check_count("sentences", len(body.sentences), settings.max_batch_size)
        prepared = await run_in_threadpool(
            classifier.prepare_sentences,
            body.sentences,
            where=[f"sentences[{index}]" for index in range(len(body.sentences))],
            allow_unmarked=settings.allow_unmarked,
        )
        predictions = await infer(request, classifier, prepared)
        if bundle_type:
            answered = [
                fhir.Answered(str(index), items.SentenceItem(sentence), [prediction])
                for index, (sentence, prediction) in enumerate(zip(body.sentences, predictions, strict=True))
            ]
            return fhir_response(answered, classifier, bundle_type, settings.low_confidence_threshold)
        return {
            "predictions": [prediction.as_dict() for prediction in predictions],
            "model": classifier.info.as_dict(),
        }

    @app.post(
        "/predict/spans",
        response_model=SpansResponse,
        response_model_exclude_none=True,
        responses=FHIR_ANSWER,
    )
    async def predict_spans(body: SpansRequest, request: Request) -> Any:
        """Classify each concept span of one text; the service writes the markers."""
        bundle_type = wants_fhir(request)
        classifier = state.require_classifier()
        items.check_count(items.ENTITIES, len(body.entities), settings.max_batch_size)
        item = items.SpansItem(body.text, tuple((entity.start, entity.end) for entity in body.entities))
        return await answer_item(request, classifier, "", item, bundle_type)

    @app.post(
        "/predict/entities",
        response_model=EntitiesResponse,
        response_model_exclude_none=True,
        responses=FHIR_ANSWER,
    )
    async def predict_entities(body: EntitiesRequest, request: Request) -> Any:
        """Classify each entity an NER step found in one document: generic spans, or a tool's
        output as it came (Comprehend Medical, Healthcare NL, spaCy). Offsets come back in the
        caller's unit, each prediction naming its source entity; `entity_types` filters."""
        bundle_type = wants_fhir(request)
        classifier = state.require_classifier()
        item_id, item = items.parse_item(body.model_dump(exclude_none=True), "", default_id=None)
        if not isinstance(item, items.SpansItem):
            raise InputError("wrong_shape", "send entities (or a tool's output) with the text")
        if len(item.spans) > settings.max_batch_size:
            items.check_count(item.field, len(item.spans), settings.max_batch_size)
        return await answer_item(request, classifier, item_id, item, bundle_type)

    async def answer_item(
        request: Request,
        classifier: AssertionClassifier,
        item_id: str,
        item: items.SpansItem,
        bundle_type: str | None,
    ) -> Any:
        prepared = await run_in_threadpool(items.prepare, classifier, item)
        predictions = await infer(request, classifier, prepared)
        if bundle_type:
            answered = [fhir.Answered(item_id, item, predictions)]
            return fhir_response(answered, classifier, bundle_type, settings.low_confidence_threshold)
        answer: dict[str, Any] = {
            "predictions": items.answer(item, predictions),
            "model": classifier.info.as_dict(),
        }
        if item_id:
            answer["id"] = item_id
        return answer

    return app
