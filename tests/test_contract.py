"""The HTTP contract, run against every entry point: Functions Framework over real HTTP,
and the Lambda handler with API Gateway v1, HTTP API v2, Function URL and ALB events.

Each test is written once and runs five times (see the `endpoint` fixture). The last test
of the module reads every log line these servers wrote and checks that none of the texts
sent by this module appears in them.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from function.core.model_folder import ModelFolder
from tests.support.endpoints import ENTRY_POINTS, SENT_TEXTS, Endpoint, Reply, canary
from tests.support.keys import KEY_A, KEY_B
from tests.support.models import calibration_sentences, marked_negex_sentences
from tests.support.references import Reference
from tests.support.windows import CONCEPT, long_sentence_with_concept_at, window_text

TOLERANCE = 1e-5
SENTENCE = "Patient denies [entity] shortness of breath [entity] at rest."


def assert_matches(prediction: dict, expected: dict[str, float]) -> None:
    assert set(prediction["scores"]) == {"PRESENT", "ABSENT", "POSSIBLE"}
    for label, score in expected.items():
        assert prediction["scores"][label] == pytest.approx(score, abs=TOLERANCE), label
    assert math.isclose(sum(prediction["scores"].values()), 1.0, abs_tol=1e-5)
    assert prediction["label"] == max(prediction["scores"], key=prediction["scores"].get)
    assert prediction["score"] == prediction["scores"][prediction["label"]]


def assert_error(reply: Reply, status: int, code: str, *forbidden: str) -> dict:
    assert reply.status == status, (reply.status, reply.content[:300])
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    for text in forbidden:
        assert text not in body["error"]["message"]
    return body["error"]


def model_block(baked_model) -> dict:
    manifest = ModelFolder.open(baked_model).manifest
    return {"id": manifest.model_id, "revision": manifest.revision, "backend": "torch", "precision": "fp32"}


# --- health ------------------------------------------------------------------------------


def test_health_names_the_model_and_needs_no_key(endpoint: Endpoint, baked_model) -> None:
    reply = endpoint.get("/health", auth=False)
    assert reply.status == 200
    body = reply.json()
    assert body["status"] == "ok"
    assert {k: body["model"][k] for k in ("id", "revision", "backend", "precision")} == model_block(
        baked_model
    )
    assert body["model"]["labels"] == ["PRESENT", "ABSENT", "POSSIBLE"]
    assert body["model"]["max_length"] == 512


# --- predictions -------------------------------------------------------------------------


def test_predict_equals_the_pipeline(endpoint: Endpoint, reference: Reference, baked_model) -> None:
    sentence = f"{canary()} reports [entity] chest pain [entity] since this morning."
    reply = endpoint.post("/predict", {"sentence": sentence})
    assert reply.status == 200, reply.content
    body = reply.json()
    assert_matches(body, reference.scores(sentence))
    assert body["marked"] is True and body["windowed"] is False
    assert body["model"] == model_block(baked_model)


def test_batch_answers_in_input_order(endpoint: Endpoint, reference: Reference) -> None:
    sentences = [s for s in calibration_sentences() if len(s) < 400][::5][:40]
    reply = endpoint.post("/predict/batch", {"sentences": sentences})
    assert reply.status == 200, reply.content
    predictions = reply.json()["predictions"]
    assert len(predictions) == len(sentences)
    for sentence, prediction in zip(sentences, predictions, strict=True):
        assert_matches(prediction, reference.scores(sentence))
    assert len({p["label"] for p in predictions}) > 1  # the model does tell inputs apart


def test_spans_write_the_markers_per_entity(endpoint: Endpoint, reference: Reference) -> None:
    text = f"{canary()}: no fever, possible pneumonia, and a cough since Monday."
    spans = [(text.index(word), text.index(word) + len(word)) for word in ("fever", "pneumonia", "cough")]
    reply = endpoint.post(
        "/predict/spans", {"text": text, "entities": [{"start": s, "end": e} for s, e in spans]}
    )
    assert reply.status == 200, reply.content
    predictions = reply.json()["predictions"]
    assert [(p["start"], p["end"]) for p in predictions] == spans
    for (start, end), prediction in zip(spans, predictions, strict=True):
        marked = f"{text[:start]}[entity] {text[start:end]} [entity]{text[end:]}"
        assert_matches(prediction, reference.scores(marked))


def test_parity_on_realistic_sentences(endpoint: Endpoint, reference: Reference) -> None:
    """Calibration sentences and the shared NegEx sentences, marked around their concept."""
    sentences = [s for s in calibration_sentences() if len(reference.tokenizer(s)["input_ids"]) <= 512]
    sentences += marked_negex_sentences()[:300]
    for offset in range(0, len(sentences), 100):
        chunk = sentences[offset : offset + 100]
        reply = endpoint.post("/predict/batch", {"sentences": chunk})
        assert reply.status == 200, reply.content
        for sentence, prediction in zip(chunk, reply.json()["predictions"], strict=True):
            assert_matches(prediction, reference.scores(sentence))


def test_long_input_keeps_a_window_around_the_concept(
    endpoint: Endpoint, reference: Reference, baked_model
) -> None:
    """A concept past token 600: tail truncation would cut it off; the window keeps it."""
    sentence = long_sentence_with_concept_at(token=620, tokenizer=reference.tokenizer)
    truncated = reference.tokenizer(sentence, truncation=True, max_length=512)["input_ids"]
    assert "[entity]" not in reference.tokenizer.decode(truncated)  # what the naive way loses
    reply = endpoint.post("/predict", {"sentence": sentence})
    assert reply.status == 200, reply.content
    body = reply.json()
    assert body["windowed"] is True
    shown = window_text(sentence, baked_model)
    assert CONCEPT in shown
    assert_matches(body, reference.scores(shown))


def test_thirty_two_concurrent_requests_each_get_their_own_answer(
    endpoint: Endpoint, reference: Reference
) -> None:
    sentences = [s for s in calibration_sentences() if len(s) < 300][3::6][:32]
    assert len(sentences) == 32
    with ThreadPoolExecutor(32) as pool:
        replies = list(pool.map(lambda s: endpoint.post("/predict", {"sentence": s}), sentences))
    for sentence, reply in zip(sentences, replies, strict=True):
        assert reply.status == 200, reply.content
        assert_matches(reply.json(), reference.scores(sentence))


# --- caller mistakes -----------------------------------------------------------------------


def test_malformed_json_is_400(endpoint: Endpoint) -> None:
    secret = canary()
    reply = endpoint.request(
        "POST",
        "/predict",
        content=f'{{"sentence": "{secret} [entity] x'.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert_error(reply, 400, "malformed_json", secret)


def test_body_that_is_not_utf8_is_400(endpoint: Endpoint) -> None:
    reply = endpoint.request(
        "POST",
        "/predict",
        content=b'{"sentence": "\xff\xfe [entity] x [entity]"}',
        headers={"Content-Type": "application/json"},
    )
    assert_error(reply, 400, "malformed_json")


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/predict", {"sentence": 42}, "sentence must be a string"),
        ("/predict", {"sentence": None}, "sentence must be a string"),
        ("/predict", {}, "sentence is required"),
        ("/predict", ["a [entity] b [entity]"], "must be a JSON object"),
        ("/predict/batch", {"sentences": "one [entity] x [entity]"}, "sentences must be a list"),
        ("/predict/batch", {"sentences": ["ok [entity] x [entity]", 7]}, "sentences[1] must be a string"),
        (
            "/predict/spans",
            {"text": "no fever", "entities": [{"start": "3", "end": 8}]},
            "entities[0].start must be an integer",
        ),
        (
            "/predict/spans",
            {"text": "no fever", "entities": [{"start": True, "end": 8}]},
            "entities[0].start must be an integer",
        ),
        (
            "/predict/spans",
            {"text": "no fever", "entities": [{"start": 3.5, "end": 8}]},
            "entities[0].start must be an integer",
        ),
        ("/predict/spans", {"text": "no fever", "entities": [{"start": 3}]}, "entities[0].end is required"),
    ],
)
def test_wrong_types_are_422_naming_the_field(
    endpoint: Endpoint, path: str, body: object, where: str
) -> None:
    error = assert_error(endpoint.post(path, body), 422, "invalid_request")
    assert where in error["message"]


def test_unknown_field_is_refused_without_echoing_it(endpoint: Endpoint) -> None:
    secret = canary()
    error = assert_error(
        endpoint.post("/predict", {"sentence": "a [entity] b [entity]", secret: "x"}),
        422,
        "invalid_request",
        secret,
    )
    assert "expected: sentence" in error["message"]


@pytest.mark.parametrize(
    ("sentence", "code"),
    [
        ("", "empty_text"),
        ("   \n\t ", "empty_text"),
        ("{c} denies shortness of breath.", "unmarked_sentence"),
        ("{c} denies [entity] shortness of breath.", "marker_count"),
        ("{c} [entity] denies [entity] shortness [entity] of breath.", "marker_count"),
        ("{c} denies [entity]   [entity] today.", "empty_entity"),
        ("{c} denies [entity] pain \ud800 [entity].", "invalid_text"),
    ],
)
def test_marker_rules(endpoint: Endpoint, sentence: str, code: str) -> None:
    secret = canary()
    sentence = sentence.format(c=secret)
    assert_error(endpoint.post("/predict", {"sentence": sentence}), 422, code, secret)
    error = assert_error(
        endpoint.post("/predict/batch", {"sentences": [SENTENCE, sentence]}), 422, code, secret
    )
    if sentence.strip():
        assert "sentences[1]" in error["message"]


def test_markers_in_any_case_or_spacing_count(endpoint: Endpoint, reference: Reference) -> None:
    sentence = "No [ENTITY] fever [ Entity ] today."  # the model sees these as markers too
    reply = endpoint.post("/predict", {"sentence": sentence})
    assert reply.status == 200, reply.content
    assert_matches(reply.json(), reference.scores(sentence))
    assert_error(endpoint.post("/predict", {"sentence": "No [Entity] fever today."}), 422, "marker_count")


@pytest.mark.parametrize(
    ("spans", "code"),
    [
        ([(3, 100)], "span_out_of_range"),
        ([(-1, 4)], "span_out_of_range"),
        ([(5, 5)], "span_out_of_range"),
        ([(8, 3)], "span_out_of_range"),
        ([(2, 3)], "empty_entity"),
    ],
)
def test_span_rules(endpoint: Endpoint, spans: list[tuple[int, int]], code: str) -> None:
    secret = canary()
    text = f"No fever {secret}."
    entities = [{"start": 3, "end": 8}] + [{"start": s, "end": e} for s, e in spans]
    error = assert_error(
        endpoint.post("/predict/spans", {"text": text, "entities": entities}), 422, code, secret
    )
    assert "entities[1]" in error["message"]


def test_span_text_rules(endpoint: Endpoint) -> None:
    secret = canary()
    assert_error(
        endpoint.post("/predict/spans", {"text": "  ", "entities": [{"start": 0, "end": 1}]}),
        422,
        "empty_text",
    )
    assert_error(
        endpoint.post(
            "/predict/spans", {"text": f"{secret} [entity] fever", "entities": [{"start": 0, "end": 4}]}
        ),
        422,
        "marker_in_text",
        secret,
    )
    assert_error(endpoint.post("/predict/spans", {"text": "no fever", "entities": []}), 422, "empty_batch")


def test_item_limits(endpoint: Endpoint) -> None:
    assert_error(endpoint.post("/predict/batch", {"sentences": []}), 422, "empty_batch")
    error = assert_error(
        endpoint.post("/predict/batch", {"sentences": [SENTENCE] * 101}), 422, "too_many_items"
    )
    assert "at most 100" in error["message"]
    entities = [{"start": 0, "end": 2}] * 101
    assert_error(
        endpoint.post("/predict/spans", {"text": "no fever", "entities": entities}), 422, "too_many_items"
    )
    assert endpoint.post("/predict/batch", {"sentences": [SENTENCE] * 100}).status == 200


def test_a_concept_longer_than_the_window_is_422(endpoint: Endpoint) -> None:
    concept = " ".join(["pain"] * 600)
    assert_error(
        endpoint.post("/predict", {"sentence": f"Has [entity] {concept} [entity]."}), 422, "entity_too_long"
    )


def test_body_over_the_limit_is_413(endpoint: Endpoint) -> None:
    sentences = [f"{canary()} denies [entity] pain [entity]. " + "x" * 12000] * 90  # ~1.1 MB
    assert_error(endpoint.post("/predict/batch", {"sentences": sentences}), 413, "body_too_large")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_body_that_is_not_json_is_415(endpoint: Endpoint, content_type: str) -> None:
    reply = endpoint.request(
        "POST",
        "/predict",
        content=json.dumps({"sentence": SENTENCE}).encode(),
        headers={"Content-Type": content_type},
    )
    assert_error(reply, 415, "unsupported_media_type")


def test_content_type_json_with_parameters_is_accepted_and_none_is_415(endpoint: Endpoint) -> None:
    body = json.dumps({"sentence": SENTENCE}).encode()
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        reply = endpoint.request("POST", "/predict", content=body, headers={"Content-Type": content_type})
        assert reply.status == 200, reply.content
    assert_error(endpoint.request("POST", "/predict", content=body), 415, "unsupported_media_type")


def test_unknown_routes_and_methods(endpoint: Endpoint) -> None:
    assert_error(endpoint.get("/nope"), 404, "not_found")
    assert_error(endpoint.get("/predict"), 405, "method_not_allowed")
    # Found by schemathesis: a body-less PUT met the JSON body check before routing (415).
    assert_error(endpoint.request("PUT", "/health"), 405, "method_not_allowed")
    assert_error(endpoint.request("PUT", "/predict", json={"sentence": SENTENCE}), 405, "method_not_allowed")


# --- auth ----------------------------------------------------------------------------------


def test_every_route_but_health_needs_a_key(endpoint: Endpoint) -> None:
    for path in ("/predict", "/predict/batch", "/predict/spans"):
        reply = endpoint.post(path, {"sentence": SENTENCE}, auth=False)
        assert_error(reply, 401, "unauthorized")
        assert reply.headers["www-authenticate"].startswith("Bearer")
    for path in ("/docs", "/openapi.json"):
        assert_error(endpoint.get(path, auth=False), 401, "unauthorized")
    assert endpoint.get("/openapi.json").status == 200


def test_wrong_key_is_401(endpoint: Endpoint) -> None:
    reply = endpoint.post("/predict", {"sentence": SENTENCE}, auth=False, headers={"X-API-Key": KEY_A + "x"})
    error = assert_error(reply, 401, "unauthorized", KEY_A)
    assert "invalid" in error["message"]
    reply = endpoint.post(
        "/predict", {"sentence": SENTENCE}, auth=False, headers={"Authorization": "Basic " + KEY_A}
    )
    assert_error(reply, 401, "unauthorized")


def test_both_keys_work_in_either_header(endpoint: Endpoint) -> None:
    for headers in (
        {"X-API-Key": KEY_B},
        {"Authorization": f"Bearer {KEY_B}"},
        {"Authorization": f"bearer {KEY_A}"},
    ):
        assert endpoint.post("/predict", {"sentence": SENTENCE}, auth=False, headers=headers).status == 200


def test_keys_in_the_query_string_are_refused(endpoint: Endpoint) -> None:
    for query in (f"key={KEY_A}", f"api_key={KEY_A}"):
        reply = endpoint.post("/predict", {"sentence": SENTENCE}, auth=False, query=query)
        error = assert_error(reply, 401, "unauthorized", KEY_A)
        assert "query string" in error["message"]


# --- the open configuration ------------------------------------------------------------------


def test_open_service_needs_no_key_and_serves_docs(open_endpoint: Endpoint, int8_reference) -> None:
    reply = open_endpoint.post("/predict", {"sentence": SENTENCE})
    assert reply.status == 200
    assert_matches(reply.json(), int8_reference.scores(SENTENCE))  # a request alone in its batch
    docs = open_endpoint.get("/docs")
    assert docs.status == 200 and b"swagger" in docs.content.lower()
    spec = open_endpoint.get("/openapi.json").json()
    assert {"/health", "/predict", "/predict/batch", "/predict/spans"} <= set(spec["paths"])


def test_unmarked_input_is_accepted_only_when_allowed_and_flagged(
    open_endpoint: Endpoint, int8_reference
) -> None:
    sentence = "Patient denies shortness of breath."
    reply = open_endpoint.post("/predict", {"sentence": sentence})
    assert reply.status == 200, reply.content
    body = reply.json()
    assert body["marked"] is False
    assert body["model"]["backend"] == "onnx" and body["model"]["precision"] == "int8"
    assert_matches(body, int8_reference.scores(sentence))
    # Half-marked input is still an error: it is a mistake, not a choice.
    assert_error(open_endpoint.post("/predict", {"sentence": "denies [entity] SOB"}), 422, "marker_count")


def test_configured_limits_apply(open_endpoint: Endpoint) -> None:
    error = assert_error(
        open_endpoint.post("/predict/batch", {"sentences": [SENTENCE] * 5}), 422, "too_many_items"
    )
    assert "at most 4" in error["message"]
    assert open_endpoint.post("/predict/batch", {"sentences": [SENTENCE] * 4}).status == 200
    assert_error(open_endpoint.post("/predict", {"sentence": SENTENCE + " x" * 2500}), 413, "body_too_large")


# --- one contract, identical answers ----------------------------------------------------------


def test_every_entry_point_answers_the_same_requests_identically(deployments) -> None:
    requests = [
        ("GET", "/health", None),
        ("POST", "/predict", {"sentence": SENTENCE}),
        ("POST", "/predict/batch", {"sentences": [SENTENCE, "Possible [entity] rash [entity]."]}),
        (
            "POST",
            "/predict/spans",
            {"text": "No fever, possible pneumonia.", "entities": [{"start": 3, "end": 8}]},
        ),
        ("POST", "/predict", {"sentence": "no markers"}),
        ("POST", "/predict/spans", {"text": "No fever.", "entities": [{"start": 3, "end": 80}]}),
        ("POST", "/predict/batch", {"sentences": [SENTENCE] * 101}),
        ("GET", "/nope", None),
    ]
    endpoints = [deployments["secured"].endpoint(name) for name in ENTRY_POINTS]
    for method, path, body in requests:
        answers = {
            e.name: (r.status, without_timings(r.json()))
            for e in endpoints
            for r in [e.request(method, path, json=body)]
        }
        assert len({json.dumps(answer, sort_keys=True) for answer in answers.values()}) == 1, answers


def without_timings(body: dict) -> dict:
    """/health reports how long its process's start-up check took: the one field that differs
    between processes serving the same folder on the same CPU."""
    check = body.get("startup_check")
    if isinstance(check, dict):
        assert check["serving"].pop("seconds") > 0
    return body


# --- logs (keep last: it reads what the tests above made the servers write) ------------------


def test_logs_hold_no_input_text_and_one_json_line_per_request(deployments) -> None:
    texts = {text for text in SENT_TEXTS if len(text.strip()) >= 12}
    canaries = {word for text in texts for word in text.replace(":", " ").split() if word.startswith("Zq")}
    if len(canaries) < 10:
        pytest.skip("checks the texts the tests above send: run it with the whole module")
    for deployment in deployments.values():
        for process in deployment.processes():
            logs = process.logs()
            requests = [json.loads(line) for line in logs.splitlines() if '"event": "request"' in line]
            assert requests, process.log_path.name
            for line in requests:
                assert {"severity", "message", "route", "status", "latency_ms", "httpRequest"} <= set(line)
            for secret in canaries:
                assert secret not in logs, f"{process.log_path.name} holds a canary"
            for text in texts:
                assert text not in logs, f"{process.log_path.name} holds an input text"
