"""tokenizer.json for the runtime, written from exactly what AutoTokenizer builds.

The model ships vocab.txt and no tokenizer config; `AutoTokenizer.from_pretrained(folder)`
then builds a lowercasing BERT WordPiece tokenizer. Serializing that tokenizer (instead of
configuring one by hand) keeps the runtime's tokenization identical to the reference
without importing transformers at run time.
"""

from __future__ import annotations

from pathlib import Path

from model_bake.errors import BakeError


def export_tokenizer(source_dir: Path, target: Path) -> None:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source_dir, local_files_only=True)
    except Exception as error:  # noqa: BLE001 (any load failure fails the bake, named)
        raise BakeError(f"{source_dir}: AutoTokenizer cannot load it: {error!r}") from None
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise BakeError(
            f"{source_dir}: AutoTokenizer built {type(tokenizer).__name__}, which has no "
            "`tokenizers` form to serialize"
        )
    backend.save(str(target))
