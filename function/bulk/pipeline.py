"""The bulk pipeline: JSONL lines in, one result or one dead letter per line out.

    match files -> read lines (file, line number, the line whole)
      -> parse (JSON, the item contract)            -> dead letter when it can never succeed
      -> reshuffle (lines of one file spread over every worker)
      -> RunInference(AssertionModelHandler)        -> dead letter when the item is invalid
      -> results as JSONL shards under PREFIX/results, dead letters under PREFIX/dead-letters

Every line read ends in exactly one of the two outputs; the counters `lines_read`, `results`
and `dead_letters` say so when the pipeline ends. Messages in dead letters and logs never
quote the line's text (the dead letter carries the line itself, in its `input` field, for the
caller to fix and replay).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import RunInference

from function.bulk.handler import NAMESPACE, AssertionModelHandler, BulkSettings, Line, Outcome
from function.core import fhir
from function.core.classifier import ModelInfo
from function.core.errors import InputError
from function.core.items import answer, parse_item

DEAD = "dead_letters"
RESULTS_DIR, DEAD_LETTERS_DIR = "results", "dead-letters"
MAX_LINE_BYTES = 1 << 20


def dead_letter(line: Line, code: str, message: str) -> dict[str, Any]:
    return {
        "file": line.file,
        "line": line.number,
        "input": line.text,
        "error_code": code,
        "error_message": message,
    }


class ReadLines(beam.DoFn):
    """Every line of a file, numbered from 1, decoded as UTF-8 (a line that is not becomes a
    dead letter, its bytes shown with replacement characters)."""

    def __init__(self) -> None:
        self.lines_read = Metrics.counter(NAMESPACE, "lines_read")

    def process(self, readable: fileio.ReadableFile) -> Iterator[Any]:
        path = readable.metadata.path
        with readable.open(compression_type=beam.io.filesystem.CompressionTypes.AUTO) as handle:
            for number, raw in enumerate(handle, start=1):
                self.lines_read.inc()
                data = raw.rstrip(b"\r\n")
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    yield beam.pvalue.TaggedOutput(
                        DEAD,
                        dead_letter(
                            Line(path, number, data.decode("utf-8", "replace")),
                            "not_utf8",
                            "the line is not UTF-8 text",
                        ),
                    )
                    continue
                yield Line(path, number, text)


class ParseLine(beam.DoFn):
    """JSON and the item contract (the same `parse_item` the message processor uses); an item
    without an id gets FILE:LINE."""

    def process(self, line: Line) -> Iterator[Any]:
        if not line.text.strip():
            yield beam.pvalue.TaggedOutput(DEAD, dead_letter(line, "empty_line", "the line is empty"))
            return
        if len(line.text.encode("utf-8")) > MAX_LINE_BYTES:
            yield beam.pvalue.TaggedOutput(
                DEAD, dead_letter(line, "too_large", f"the line is longer than {MAX_LINE_BYTES} bytes")
            )
            return
        try:
            entry = json.loads(line.text)
        except (json.JSONDecodeError, RecursionError):
            yield beam.pvalue.TaggedOutput(
                DEAD, dead_letter(line, "invalid_json", "the line is not valid JSON")
            )
            return
        try:
            item_id, item = parse_item(entry, "", default_id=f"{line.file.rsplit('/', 1)[-1]}:{line.number}")
        except InputError as error:
            yield beam.pvalue.TaggedOutput(DEAD, dead_letter(line, error.code, error.message))
            return
        yield Line(line.file, line.number, line.text, item_id, item)


class Route(beam.DoFn):
    """An outcome to its output: the result line (our JSON, or with `bundle_type` a FHIR R4
    Bundle per line), or the dead letter."""

    def __init__(self, bundle_type: str | None = None, low_confidence_threshold: float = 0.6) -> None:
        self.results = Metrics.counter(NAMESPACE, "results")
        self.bundle_type, self.threshold = bundle_type, low_confidence_threshold

    def process(self, outcome: Outcome) -> Iterator[Any]:
        line = outcome.line
        if outcome.error is not None:
            yield beam.pvalue.TaggedOutput(DEAD, dead_letter(line, outcome.error.code, outcome.error.message))
            return
        assert line.item is not None
        self.results.inc()
        if self.bundle_type:
            bundle = fhir.bundle(
                [fhir.Answered(line.item_id, line.item, outcome.predictions)],
                ModelInfo(**outcome.model),
                seed=f"{line.file}:{line.number}",
                bundle_type=self.bundle_type,
                low_confidence_threshold=self.threshold,
            )
            yield json.dumps(bundle, ensure_ascii=False)
            return
        yield json.dumps(
            {
                "id": line.item_id,
                "predictions": answer(line.item, outcome.predictions),
                "model": outcome.model,
                "source": {"file": line.file, "line": line.number},
            },
            ensure_ascii=False,
        )


class CountDeadLetters(beam.DoFn):
    def __init__(self) -> None:
        self.dead_letters = Metrics.counter(NAMESPACE, "dead_letters")

    def process(self, letter: dict[str, Any]) -> Iterator[str]:
        self.dead_letters.inc()
        yield json.dumps(letter, ensure_ascii=False)


def build(
    pipeline: beam.Pipeline,
    input_pattern: str,
    output_prefix: str,
    settings: BulkSettings,
    *,
    num_shards: int = 0,
    bundle_type: str | None = None,
) -> None:
    """`bundle_type` (collection or transaction): results as FHIR R4 Bundles, one per line."""
    prefix = output_prefix.rstrip("/")
    lines = (
        pipeline
        | "Match" >> fileio.MatchFiles(input_pattern)
        | "Open" >> fileio.ReadMatches()
        | "Read lines" >> beam.ParDo(ReadLines()).with_outputs(DEAD, main="lines")
    )
    parsed = lines.lines | "Parse" >> beam.ParDo(ParseLine()).with_outputs(DEAD, main="items")
    # A fusion break: reading a file is one element, so without it every line of a file stays
    # on the worker that opened it (one core of many). Spread, the lines reach every worker.
    spread = parsed.items | "Spread" >> beam.Reshuffle()
    outcomes = spread | "Classify" >> RunInference(AssertionModelHandler(settings))
    routed = outcomes | "Route" >> beam.ParDo(
        Route(bundle_type, settings.low_confidence_threshold)
    ).with_outputs(DEAD, main="results")
    (
        routed.results
        | "Write results"
        >> beam.io.WriteToText(
            f"{prefix}/{RESULTS_DIR}/part", file_name_suffix=".jsonl", num_shards=num_shards
        )
    )
    (
        (lines[DEAD], parsed[DEAD], routed[DEAD])
        | "All dead letters" >> beam.Flatten()
        | "Count dead letters" >> beam.ParDo(CountDeadLetters())
        | "Write dead letters"
        >> beam.io.WriteToText(
            f"{prefix}/{DEAD_LETTERS_DIR}/part", file_name_suffix=".jsonl", num_shards=num_shards
        )
    )
