"""The bulk adapter: a corpus of JSONL items through the same core on Apache Beam.

`python -m function.bulk --input PATTERN --output PREFIX [Beam pipeline options]` reads items
(one per line, the message contract's item forms), classifies them with a RunInference model
handler that loads the baked folder once per worker process, and writes one result per item
under PREFIX/results, or the line whole under PREFIX/dead-letters when it can never succeed.
DirectRunner here; Dataflow, Flink or Spark with their options. Beam lives in its own
requirements (requirements-beam.txt), never in the serving image.
"""
