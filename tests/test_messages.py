"""The message contract, in-process, one failure class at a time. The sink records what a
transport would publish (and can be told to fail like one); Pub/Sub and SQS themselves are
exercised end to end in test_pubsub.py and test_sqs.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from function.core.classifier import AssertionClassifier
from function.core.errors import ModelNotReady
from function.core.messages import Envelope, MessageProcessor, RetryLater
from function.startup.settings import Settings
from tests.support.sinks import RecordingSink

SENTENCE = "Patient denies [entity] chest pain [entity]."


@pytest.fixture(scope="module")
def classifier(baked_model: Path):
    loaded = AssertionClassifier.load(baked_model, backend="onnx", precision="int8")
    yield loaded
    loaded.close()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def processor(classifier: AssertionClassifier, sink: RecordingSink):
    settings = Settings(max_batch_size=5, max_body_bytes=2048)
    return MessageProcessor(lambda: classifier, lambda: sink, source="test", limits=settings.message_limits())


def message(body: object, message_id: str = "m-1", **attributes: str) -> Envelope:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Envelope(message_id, data, attributes)


def test_a_single_item_gets_a_result_with_a_default_id(processor, sink: RecordingSink) -> None:
    outcome = processor.handle(message({"sentence": SENTENCE}, "m-7"))
    assert outcome.status == "published" and outcome.item_count == 1
    ((body, attributes),) = sink.results
    result = json.loads(body)
    assert attributes == {"source_message_id": "m-7"}
    assert result["source_message_id"] == "m-7"
    assert [item["id"] for item in result["items"]] == ["m-7:0"]
    assert result["model"]["precision"] == "int8"
    assert set(result["items"][0]["predictions"][0]["scores"]) == {"PRESENT", "ABSENT", "POSSIBLE"}


def test_a_list_mixes_sentences_and_spans_and_keeps_caller_ids(processor, sink: RecordingSink) -> None:
    body = [
        {"id": "note-1/s3", "sentence": SENTENCE},
        {
            "id": "note-1/s4",
            "text": "No fever, possible rash.",
            "entities": [{"start": 3, "end": 8}, {"start": 19, "end": 23}],
        },
    ]
    processor.handle(message(body))
    result = json.loads(sink.results[0][0])
    assert [item["id"] for item in result["items"]] == ["note-1/s3", "note-1/s4"]
    spans = result["items"][1]["predictions"]
    assert [(p["start"], p["end"]) for p in spans] == [(3, 8), (19, 23)]


def test_the_published_line_counts_labels_as_the_http_line_does(processor, sink, caplog) -> None:
    """The fields the log-based metrics read: every label (zeros too), the low-confidence
    count and share, from the predictions the result carries; never the text."""
    body = [
        {"sentence": SENTENCE},
        {"text": "No fever, possible rash.", "entities": [{"start": 3, "end": 8}]},
    ]
    with caplog.at_level("INFO", logger="function.messages"):
        processor.handle(message(body, "m-log"))
    (line,) = [r.json_fields for r in caplog.records if r.name == "function.messages"]
    predictions = [p for item in json.loads(sink.results[0][0])["items"] for p in item["predictions"]]
    low = sum(p["score"] < Settings().low_confidence_threshold for p in predictions)
    assert line["outcome"] == "published" and line["item_count"] == 2
    assert line["label_counts"] == {
        label: sum(p["label"] == label for p in predictions) for label in ("PRESENT", "ABSENT", "POSSIBLE")
    }
    assert line["low_confidence_count"] == low and line["low_confidence_share"] == round(low / 2, 4)
    assert "chest pain" not in json.dumps(line) and "fever" not in json.dumps(line)


def test_the_same_message_twice_yields_the_same_body(processor, sink: RecordingSink) -> None:
    body = [{"sentence": SENTENCE}, {"text": "Possible pneumonia.", "entities": [{"start": 9, "end": 18}]}]
    processor.handle(message(body, "m-dup"))
    processor.handle(message(body, "m-dup"))
    assert sink.results[0] == sink.results[1]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not json at all", "not_json"),
        (b"\xff\xfe{}", "not_json"),
        (b"42", "wrong_shape"),
        (b"[]", "empty_message"),
        (b'[{"sentence": "a [entity] b [entity]"}, 7]', "wrong_shape"),
        (b'{"sentence": "no markers here"}', "unmarked_sentence"),
        (b'{"sentence": "x", "text": "y"}', "wrong_shape"),
        (b'{"sentence": "a [entity] b [entity]", "note": "n"}', "wrong_shape"),
        (b'{"text": "No fever.", "entities": [{"start": 3, "end": 80}]}', "span_out_of_range"),
        (b'{"text": "No fever.", "entities": [{"start": true, "end": 8}]}', "wrong_shape"),
        (b'{"text": "No fever.", "entities": []}', "empty_batch"),
        (b'{"id": 5, "sentence": "a [entity] b [entity]"}', "wrong_shape"),
        (json.dumps([{"sentence": SENTENCE}] * 6).encode(), "too_many_items"),
        (json.dumps({"sentence": SENTENCE + " x" * 2000}).encode(), "too_large"),
    ],
)
def test_a_message_that_can_never_succeed_is_parked_whole_and_acknowledged(
    processor, sink: RecordingSink, data: bytes, code: str
) -> None:
    outcome = processor.handle(message(data, "m-bad", origin="ner-step"))
    assert outcome.status == "rejected" and outcome.error_code == code
    assert sink.results == []
    ((body, attributes),) = sink.errors
    assert body == data  # the original payload, byte for byte
    assert attributes["error_code"] == code and attributes["source_message_id"] == "m-bad"
    assert attributes["origin"] == "ner-step"  # the caller's attributes travel with it
    assert "no markers here" not in attributes["error_message"]


def test_a_failed_results_publish_is_not_acknowledged(processor, sink: RecordingSink) -> None:
    sink.fail_results = True
    with pytest.raises(RetryLater):
        processor.handle(message({"sentence": SENTENCE}))
    assert sink.errors == []  # a retryable failure is not a rejection


def test_a_failed_errors_publish_is_not_acknowledged(processor, sink: RecordingSink, caplog) -> None:
    sink.fail_errors = True
    with caplog.at_level("INFO", logger="function.messages"), pytest.raises(RetryLater):
        processor.handle(message(b"not json"))
    (line,) = [r for r in caplog.records if r.name == "function.messages"]
    assert (
        line.json_fields["outcome"] == "retry" and line.json_fields["error_code"] == "errors_publish_failed"
    )


def test_a_model_not_ready_is_not_acknowledged(sink: RecordingSink) -> None:
    def not_ready():
        raise ModelNotReady("loading")

    processor = MessageProcessor(not_ready, lambda: sink, source="test", limits=Settings().message_limits())
    with pytest.raises(RetryLater):
        processor.handle(message({"sentence": SENTENCE}))
    assert sink.results == sink.errors == []
