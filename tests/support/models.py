"""Build BERT model folders shaped like the real one: config.json + vocab.txt +
model.safetensors (or pytorch_model.bin), no tokenizer config, random weights in the real
transformers classes, and a WordPiece vocabulary built from the calibration sentences.
The same arguments give the same bytes on every run (`build_vocab`, seeded weights)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from function.core.markers import mark_entity
from model_bake.agreement import calibration_sentences  # the one reader; tests import it from here
from tests.support.servers import ROOT

NEGEX = ROOT.parent / "shared" / "data" / "negex_annotations.jsonl"
LABELS = {0: "PRESENT", 1: "ABSENT", 2: "POSSIBLE"}


def negex_rows() -> list[dict]:
    """The shared NegEx sentences, or [] where the shared data folder is absent."""
    if not NEGEX.is_file():
        return []
    return [json.loads(line) for line in NEGEX.read_text().splitlines()]


def marked_negex_sentences() -> list[str]:
    """The NegEx sentences with the markers written around their concept, as the service
    writes them for a span ([] where the shared data folder is absent)."""
    return [mark_entity(r["text"], r["start"], r["end"], where=r["id"]).text for r in negex_rows()]


def build_vocab(texts: Iterable[str], size: int = 1000) -> list[str]:
    """A WordPiece vocabulary built the same way, byte for byte, on every run and machine:
    the special tokens, every character seen (alone and as a ``##`` continuation), every
    whole word, then the most frequent word starts and ``##`` continuations up to `size`,
    ties broken alphabetically. (`tokenizers`' WordPiece trainer breaks frequency ties in
    hash order, so its vocabulary, and with it the test model, changed between runs.) Texts
    are split the way BERT's tokenizer splits them, so every word of the calibration set is
    one token and other words still tokenize, piece by piece."""
    from collections import Counter

    from tokenizers import normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(lowercase=True)
    splitter = pre_tokenizers.BertPreTokenizer()
    words: Counter[str] = Counter()
    for text in texts:
        words.update(word for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text)))
    characters = sorted({character for word in words for character in word})
    pieces: Counter[str] = Counter()
    for word, count in words.items():
        for length in range(2, min(len(word), 8)):
            pieces[word[:length]] += count
            for start in range(1, len(word) - length + 1):
                pieces["##" + word[start : start + length]] += count
    by_frequency = sorted(words.items(), key=lambda item: (-item[1], item[0]))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += characters + [f"##{character}" for character in characters]
    vocab += [word for word, _ in by_frequency if word not in set(vocab)]
    seen = set(vocab)
    for piece, _ in sorted(pieces.items(), key=lambda item: (-item[1], item[0])):
        if len(vocab) >= size:
            break
        if piece not in seen:
            vocab.append(piece)
            seen.add(piece)
    return vocab


def bert_config(vocab_size: int, *, layers: int, hidden: int, heads: int, intermediate: int) -> dict:
    """A config.json in the style the real model's (transformers 4.x) has."""
    return {
        "_name_or_path": "emilyalsentzer/Bio_Discharge_Summary_BERT",
        "architectures": ["BertForSequenceClassification"],
        "attention_probs_dropout_prob": 0.1,
        "gradient_checkpointing": False,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": hidden,
        "id2label": {str(index): label for index, label in LABELS.items()},
        "initializer_range": 0.02,
        "intermediate_size": intermediate,
        "label2id": {label: index for index, label in LABELS.items()},
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_type": "bert",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "transformers_version": "4.4.2",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def build_bert_folder(
    path: Path,
    *,
    vocab: list[str] | None = None,
    layers: int = 2,
    hidden: int = 64,
    heads: int = 2,
    intermediate: int = 128,
    seed: int = 0,
    weights: str = "safetensors",
    init_range: float = 0.3,
    head_scale: float = 2.0,
) -> Path:
    """Write a model folder. Random weights are drawn wider than BERT's 0.02 (`init_range`)
    and the head is scaled (`head_scale`) so that predictions differ between inputs and
    spread over the labels: a near-uniform model would make every comparison a tie."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    vocab = vocab or build_vocab(calibration_sentences())
    path.mkdir(parents=True, exist_ok=True)
    config = bert_config(len(vocab), layers=layers, hidden=hidden, heads=heads, intermediate=intermediate)
    (path / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(seed)
    model = BertForSequenceClassification(BertConfig.from_dict({**config, "initializer_range": init_range}))
    model.eval()
    with torch.no_grad():
        model.classifier.weight.mul_(head_scale / init_range / hidden**0.5)
    state = {name: tensor.detach().contiguous().clone() for name, tensor in model.state_dict().items()}
    if weights == "safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
    else:
        torch.save(state, path / "pytorch_model.bin")
    return path
