"""python -m function.bulk --input PATTERN --output PREFIX [--isolated] [--format fhir] [Beam options]

Settings come from the environment, as for the service (MODEL_DIR, BACKEND, PRECISION,
INTRA_OP_THREADS, BATCH_MAX_ITEMS, BATCH_MAX_TOKENS, ALLOW_UNMARKED, LOW_CONFIDENCE_THRESHOLD);
every other option goes to Beam (--runner, --project, --region, --temp_location,
--direct_num_workers, ...). At the end the counters are printed and checked: every line read
is a result or a dead letter, or the command fails.
"""

from __future__ import annotations

import argparse
import logging
import sys

from function.startup.settings import ConfigError, Settings


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m function.bulk", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="JSONL files: a path or glob (local, gs://, s3://)")
    parser.add_argument(
        "--output", required=True, help="prefix: results/ and dead-letters/ are written under it"
    )
    parser.add_argument(
        "--isolated",
        action="store_true",
        help="one forward pass per item: results independent of batching (byte-identical reruns)",
    )
    parser.add_argument("--max_batch_size", type=int, default=256, help="most items per RunInference batch")
    parser.add_argument(
        "--format",
        choices=("json", "fhir"),
        default="json",
        help="results as our JSON lines, or one FHIR R4 Bundle of Conditions per line",
    )
    parser.add_argument(
        "--bundle_type",
        choices=("collection", "transaction"),
        default="collection",
        help="the FHIR Bundle type (with --format fhir)",
    )
    parser.add_argument(
        "--num_shards", type=int, default=0, help="result and dead-letter files (0: the runner chooses)"
    )
    return parser.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    args, beam_args = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"python -m function.bulk: {error}", file=sys.stderr)
        return 2
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from function.bulk.handler import NAMESPACE, BulkSettings
    from function.bulk.pipeline import build

    bulk = BulkSettings(
        model_dir=settings.model_dir,
        backend=settings.backend,
        precision=settings.precision,
        threads=settings.threads,
        batch_max_items=settings.batch_max_items,
        batch_max_tokens=settings.batch_max_tokens,
        allow_unmarked=settings.allow_unmarked,
        low_confidence_threshold=settings.low_confidence_threshold,
        isolated=args.isolated,
        max_batch_size=args.max_batch_size,
        min_batch_size=min(8, args.max_batch_size),
    )
    pipeline = beam.Pipeline(options=PipelineOptions(beam_args, save_main_session=False))
    bundle_type = args.bundle_type if args.format == "fhir" else None
    build(pipeline, args.input, args.output, bulk, num_shards=args.num_shards, bundle_type=bundle_type)
    result = pipeline.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed if c.committed is not None else c.attempted
        for c in result.metrics().query(beam.metrics.MetricsFilter().with_namespace(NAMESPACE))["counters"]
    }
    read, results, dead = (counters.get(n, 0) for n in ("lines_read", "results", "dead_letters"))
    rejected, windowed, low = (counters.get(n, 0) for n in ("rejected", "windowed", "low_confidence"))
    print(
        f"lines read {read}, results {results}, dead letters {dead} (rejected by the model's checks "
        f"{rejected}, windowed {windowed}, low-confidence {low})"
    )
    if read != results + dead:
        print(f"python -m function.bulk: {read} lines read but {results + dead} written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
