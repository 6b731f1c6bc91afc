"""The bulk adapter (python -m function.bulk) on Beam's DirectRunner, run as a user runs it:
a separate process in the Beam environment (.venv-beam, `make beam-venv`; Beam needs
protobuf < 7 and cannot share .venv), on the session's baked model, over a corpus built from
the NegEx sentences plus every kind of line that can never succeed. Its answers are compared
with the HTTP path's (a real Functions Framework server on the same folder)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.servers import ROOT, functions_framework_server

NEGEX = ROOT.parent / "shared" / "data" / "negex_annotations.jsonl"
PHI_CANARY = "Zebulon Quartermaine"  # a name in one line's text: must never reach the logs


def beam_python() -> str:
    path = os.environ.get("BEAM_PYTHON") or str(ROOT / ".venv-beam" / "bin" / "python")
    if not Path(path).is_file():
        pytest.skip(f"the Beam environment is missing ({path}): make beam-venv")
    return path


def negex(limit: int) -> list[dict]:
    if not NEGEX.is_file():
        pytest.skip(f"the NegEx set is missing: {NEGEX}")
    return [json.loads(line) for line in NEGEX.read_text().splitlines()[:limit]]


def marked(row: dict) -> str:
    text, start, end = row["text"], row["start"], row["end"]
    return f"{text[:start]}[entity] {text[start:end]} [entity]{text[end:]}"


# Lines that can never succeed, each with the code its dead letter must carry.
BAD_LINES = [
    ("not json at all", "invalid_json"),
    (json.dumps({"id": "no-form", "note": "x"}), "wrong_shape"),
    (json.dumps({"id": "unmarked", "sentence": "No markers in this sentence."}), "unmarked_sentence"),
    (
        json.dumps({"id": "beyond", "text": "Short text.", "entities": [{"start": 6, "end": 60}]}),
        "span_out_of_range",
    ),
    ("", "empty_line"),
    (json.dumps({"id": "huge", "sentence": "[entity] x [entity] " + "word " * 220_000}), "too_large"),
]


def corpus(folder: Path, rows: list[dict]) -> dict[str, dict]:
    """Three files: sentence form, span form (non-ASCII text, two entities, one without an
    id), and the bad lines between good ones. Returns the good items by id."""
    folder.mkdir(parents=True, exist_ok=True)
    items: dict[str, dict] = {}
    third = len(rows) // 3
    with (folder / "sentences.jsonl").open("w") as out:
        for row in rows[:third]:
            items[row["id"]] = {"id": row["id"], "sentence": marked(row)}
            out.write(json.dumps(items[row["id"]]) + "\n")
    with (folder / "spans.jsonl").open("w") as out:
        for row in rows[third : 2 * third]:
            items[row["id"]] = {
                "id": row["id"],
                "text": row["text"],
                "entities": [{"start": row["start"], "end": row["end"]}],
            }
            out.write(json.dumps(items[row["id"]], ensure_ascii=False) + "\n")
        text = f"Mme Zoë Brontë, {PHI_CANARY}: no fever, possible pneumonia."
        two = {
            "id": "two-entities",
            "text": text,
            "entities": [
                {"start": text.index("fever"), "end": text.index("fever") + 5},
                {"start": text.index("pneumonia"), "end": text.index("pneumonia") + 9},
            ],
        }
        items["two-entities"] = two
        out.write(json.dumps(two, ensure_ascii=False) + "\n")
        no_id = {"sentence": "She denies [entity] chest pain [entity]."}
        items[f"spans.jsonl:{third + 2}"] = no_id
        out.write(json.dumps(no_id) + "\n")
    with (folder / "mixed.jsonl").open("wb") as out:
        for index, row in enumerate(rows[2 * third :]):
            items[row["id"]] = {"id": row["id"], "sentence": marked(row)}
            out.write((json.dumps(items[row["id"]]) + "\n").encode())
            if index < len(BAD_LINES):
                out.write((BAD_LINES[index][0] + "\n").encode())
        out.write(b"\xff\xfe not utf-8\n")
    return items


def run_bulk(
    model: Path, input_glob: str, output: Path | str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [beam_python(), "-m", "function.bulk", "--input", input_glob, "--output", str(output), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "MODEL_DIR": str(model), "INTRA_OP_THREADS": "1", **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def read_jsonl(folder: Path) -> list[dict]:
    return [
        json.loads(line) for path in sorted(folder.glob("*.jsonl")) for line in path.read_text().splitlines()
    ]


def test_every_line_ends_in_a_result_or_a_dead_letter(baked_model: Path, tmp_path: Path) -> None:
    items = corpus(tmp_path / "in", negex(90))
    result = run_bulk(baked_model, str(tmp_path / "in" / "*.jsonl"), tmp_path / "out", "--num_shards", "2")
    results, dead = read_jsonl(tmp_path / "out" / "results"), read_jsonl(tmp_path / "out" / "dead-letters")
    assert len(list((tmp_path / "out" / "results").glob("*.jsonl"))) == 2, "sharded as asked"
    lines = sum(len(p.read_bytes().splitlines()) for p in (tmp_path / "in").glob("*.jsonl"))
    assert f"lines read {lines}, results {len(items)}, dead letters {len(BAD_LINES) + 1}" in result.stdout
    assert {r["id"] for r in results} == set(items) and len(results) == len(items)
    assert sorted(d["error_code"] for d in dead) == sorted([code for _, code in BAD_LINES] + ["not_utf8"])
    mixed = (tmp_path / "in" / "mixed.jsonl").read_bytes().splitlines()
    for letter in dead:
        assert letter["file"].endswith("mixed.jsonl") and letter["error_message"]
        if letter["error_code"] != "not_utf8":
            assert letter["input"].encode() == mixed[letter["line"] - 1], "the line whole, at its number"
    two = next(r for r in results if r["id"] == "two-entities")
    text = items["two-entities"]["text"]
    assert [(p["start"], p["end"]) for p in two["predictions"]] == [
        (text.index("fever"), text.index("fever") + 5),
        (text.index("pneumonia"), text.index("pneumonia") + 9),
    ]
    assert all(r["model"]["id"] and r["model"]["precision"] in ("int8", "fp32") for r in results)
    assert all(p["label"] in ("PRESENT", "ABSENT", "POSSIBLE") for r in results for p in r["predictions"])
    assert PHI_CANARY not in result.stdout + result.stderr, "patient text in the logs"


def http_answers(model: Path, items: dict[str, dict], log: Path) -> dict[str, list[dict]]:
    """Each item answered alone by the HTTP path (fp32), one request after another."""
    server = functions_framework_server(
        {"MODEL_DIR": str(model), "PRECISION": "fp32", "INTRA_OP_THREADS": "1"}, log
    )
    answers: dict[str, list[dict]] = {}
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for item_id, item in items.items():
                if "sentence" in item:
                    reply = client.post("/predict", json={"sentence": item["sentence"]})
                    answers[item_id] = [{k: v for k, v in reply.json().items() if k != "model"}]
                else:
                    reply = client.post(
                        "/predict/spans", json={"text": item["text"], "entities": item["entities"]}
                    )
                    answers[item_id] = reply.json()["predictions"]
                assert reply.status_code == 200, reply.text
    finally:
        server.stop()
    return answers


def test_fp32_results_equal_the_http_answers(baked_model: Path, tmp_path: Path) -> None:
    """Exact with --isolated (one pass per item, as an HTTP request alone); batched, the same
    labels and scores within float rounding."""
    items = corpus(tmp_path / "in", negex(45))
    expected = http_answers(baked_model, items, tmp_path / "ff.log")
    for mode in ("--isolated", None):
        out = tmp_path / f"out{mode or ''}"
        run_bulk(
            baked_model, str(tmp_path / "in" / "*.jsonl"), out, *([mode] if mode else []), PRECISION="fp32"
        )
        got = {r["id"]: r["predictions"] for r in read_jsonl(out / "results")}
        assert set(got) == set(expected)
        for item_id, predictions in got.items():
            want = expected[item_id]
            if mode:
                assert predictions == want, item_id
            else:
                assert [p["label"] for p in predictions] == [p["label"] for p in want], item_id
                for p, w in zip(predictions, want, strict=True):
                    assert p["scores"] == pytest.approx(w["scores"], abs=1e-5), item_id


def test_isolated_int8_results_do_not_depend_on_batching(baked_model: Path, tmp_path: Path) -> None:
    corpus(tmp_path / "in", negex(60))
    outputs = []
    for size in ("1", "64"):
        out = tmp_path / f"out-{size}"
        run_bulk(
            baked_model,
            str(tmp_path / "in" / "*.jsonl"),
            out,
            "--isolated",
            "--max_batch_size",
            size,
            PRECISION="int8",
        )
        outputs.append(sorted((r["id"], json.dumps(r["predictions"])) for r in read_jsonl(out / "results")))
    assert outputs[0] == outputs[1], "byte-identical predictions whatever the batch size"


def test_two_worker_processes(baked_model: Path, tmp_path: Path) -> None:
    items = corpus(tmp_path / "in", negex(30))
    result = run_bulk(
        baked_model,
        str(tmp_path / "in" / "*.jsonl"),
        tmp_path / "out",
        "--direct_num_workers=2",
        "--direct_running_mode=multi_processing",
    )
    assert f"results {len(items)}, dead letters {len(BAD_LINES) + 1}" in result.stdout
    assert {r["id"] for r in read_jsonl(tmp_path / "out" / "results")} == set(items)


def test_corpora_on_s3_through_beams_file_systems(baked_model: Path, tmp_path: Path) -> None:
    """s3:// in and out through Beam's S3 file system. S3 cannot be reached from here: moto's
    server stands in for it, over HTTP (--s3_endpoint_url)."""
    beam_python()
    from tests.support.sqs import moto_server

    items = corpus(tmp_path / "in", negex(21))
    with moto_server() as url:
        import boto3

        s3 = boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )  # fmt: skip
        s3.create_bucket(Bucket="notes")
        for path in (tmp_path / "in").glob("*.jsonl"):
            s3.upload_file(str(path), "notes", f"export/{path.name}")
        s3_options = [
            f"--s3_endpoint_url={url}", "--s3_access_key_id=testing", "--s3_secret_access_key=testing",
            "--s3_region_name=us-east-1",
        ]  # fmt: skip
        result = run_bulk(baked_model, "s3://notes/export/*.jsonl", "s3://notes/assertions", *s3_options)
        assert f"results {len(items)}, dead letters {len(BAD_LINES) + 1}" in result.stdout
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="notes", Prefix="assertions/")["Contents"]]
        results = [
            json.loads(line)
            for key in keys
            if key.startswith("assertions/results/")
            for line in s3.get_object(Bucket="notes", Key=key)["Body"].read().decode().splitlines()
        ]
        assert {r["id"] for r in results} == set(items)
        assert any(key.startswith("assertions/dead-letters/") for key in keys)


def test_ner_outputs_in_and_fhir_bundles_out(baked_model: Path, tmp_path: Path) -> None:
    """One line per NER shape (non-ASCII note; generic offsets in UTF-16 units): the JSON
    results give offsets back in the caller's unit, tied to the source entities; with
    --format fhir every line becomes a valid FHIR R4 Bundle saying the same."""
    from tests.support import ner_outputs as shapes
    from tests.support.fhir_validation import assert_valid, missing

    text = shapes.note(PHI_CANARY)
    sent = {
        shape: shapes.item(shape, text, "utf16" if shape == "generic" else "code_point", id=shape)
        for shape in shapes.SHAPES
    }
    sent["comprehend_medical"]["entity_types"] = ["MEDICAL_CONDITION"]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "ner.jsonl").write_text(
        "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in sent.values())
    )
    run_bulk(baked_model, str(tmp_path / "in" / "*.jsonl"), tmp_path / "json", PRECISION="fp32")
    results = {r["id"]: r["predictions"] for r in read_jsonl(tmp_path / "json" / "results")}
    assert set(results) == set(sent)
    for shape, predictions in results.items():
        unit = "utf16" if shape == "generic" else "code_point"
        kept = 3 if shape == "comprehend_medical" else 4
        assert [(p["start"], p["end"]) for p in predictions] == shapes.caller_offsets(shape, text, unit)[
            :kept
        ]
        assert [p["entity"]["index"] for p in predictions] == list(range(kept))
    assert [p["scores"] for p in results["spacy"]] == [p["scores"] for p in results["generic"]]
    reason = missing()
    if reason is not None:
        pytest.skip(f"FHIR half incomplete: {reason}")
    result = run_bulk(
        baked_model,
        str(tmp_path / "in" / "*.jsonl"),
        tmp_path / "fhir",
        "--format",
        "fhir",
        "--bundle_type",
        "transaction",
        PRECISION="fp32",
    )
    bundles = read_jsonl(tmp_path / "fhir" / "results")
    assert len(bundles) == len(sent)
    for bundle in bundles:
        assert_valid(bundle)
        conditions = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]
        shape = conditions[0]["identifier"][0]["value"].split("#")[0]
        labels = [p["label"] for p in results[shape]]
        codes = [c["verificationStatus"]["coding"][0]["code"] for c in conditions]
        assert codes == [
            {"PRESENT": "confirmed", "ABSENT": "refuted", "POSSIBLE": "unconfirmed"}[x] for x in labels
        ]
        assert [c["code"]["text"] for c in conditions] == [m[0] for m in shapes.MENTIONS][: len(labels)]
    assert PHI_CANARY not in result.stdout + result.stderr
