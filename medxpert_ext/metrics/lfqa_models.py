"""MedLFQA's model-based metrics: BERTScore (bert-score 0.3.13's algorithm, OLAPH's settings) and OLAPH's
factuality scorer (BioBERT-NLI embedding similarity). They need torch + transformers and a local model folder;
the formulas and their sources are documented in :mod:`medxpert_ext.metrics.lfqa`.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import MetricUnavailable
from .lfqa import (
    _BERTSCORE_FALLBACK_MAX_LENGTH,
    ENV_BERTSCORE_MODEL,
    ENV_NLI_MODEL,
    OLAPH_BERTSCORE_MODEL,
    OLAPH_BERTSCORE_NUM_LAYERS,
    OLAPH_NLI_MAX_LENGTH,
    OLAPH_NLI_MODEL,
    OLAPH_SIMILARITY_THRESHOLD,
    _BadNumLayers,
    factuality_from_labels,
)

# --------------------------------------------------------------------------------------------------
# model loading helpers (shared by BERTScore and the factuality scorer)
# --------------------------------------------------------------------------------------------------


def _import_torch_transformers(what: str):
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MetricUnavailable(
            f"{what} needs 'torch' and 'transformers' ({exc}); install them with: pip install 'medxpert-ext[hf]'"
        ) from exc
    return torch, transformers


def _looks_like_path(spec: str) -> bool:
    # hub ids look like "name" or "org/name"; anything else that is not an existing folder is a missing path
    return os.path.isabs(spec) or spec.startswith((".", "~")) or spec.count("/") > 1 or "\\" in spec


def _resolve_model_dir(spec: str, *, allow_download: bool, unavailable: Any) -> str:
    """A local folder for `spec` (a folder or a hub id), without touching the network unless allowed.

    `unavailable(reason)` builds the MetricUnavailable to raise.
    """
    expanded = os.path.expanduser(spec)
    if os.path.isdir(expanded):
        return expanded
    if _looks_like_path(spec):
        raise unavailable(f"folder {expanded!r} does not exist")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise unavailable(f"'huggingface_hub' is not installed ({exc})") from exc
    try:
        return snapshot_download(repo_id=spec, local_files_only=not allow_download)
    except Exception as exc:  # LocalEntryNotFoundError, HFValidationError, network errors, ...
        if not allow_download and isinstance(exc, FileNotFoundError):  # LocalEntryNotFoundError
            raise unavailable(f"{spec!r} is neither a local folder nor in the local Hugging Face cache") from exc
        first_line = (str(exc).splitlines() or [""])[0][:200]
        raise unavailable(f"{spec!r} could not be resolved ({type(exc).__name__}: {first_line})") from exc


def _unavailable_factory(*, model_id: str, role: str, env_var: str, folder: str):
    def build(reason: str) -> MetricUnavailable:
        return MetricUnavailable(
            f"{role} cannot be loaded offline: {reason}. "
            f"OLAPH uses the Hugging Face model {model_id!r}. To provide it, on a machine with internet run "
            f"`hf download {model_id} --local-dir {folder}` (older clients: `huggingface-cli download {model_id} "
            f"--local-dir {folder}`), copy the folder to this machine, and set {env_var}={folder} "
            f"(or pass model_path={folder!r}). A model already in the Hugging Face cache is found automatically."
        )

    return build


# --------------------------------------------------------------------------------------------------
# BERTScore (OLAPH: pdata_collection.py BERTSCORE = bert_score 0.3.13 score(..., lang='en'))
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _load_bertscore_model(directory: str, num_layers: int, device: str):
    torch, transformers = _import_torch_transformers("BERTScore")
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    byte_level = ("RobertaTokenizer", "RobertaTokenizerFast", "GPT2Tokenizer", "GPT2TokenizerFast")
    prefix_space = isinstance(tokenizer, tuple(getattr(transformers, n) for n in byte_level if hasattr(transformers, n)))
    if prefix_space:
        # bert-score 0.3.13 encodes RoBERTa/GPT-2 text with add_prefix_space=True (honoured by transformers 4.x's
        # slow tokenizer at encode time; transformers 5.x only honours it at load time).
        tokenizer = transformers.AutoTokenizer.from_pretrained(directory, add_prefix_space=True)
    max_length = tokenizer.model_max_length
    if not max_length or max_length > 100_000:
        max_length = _BERTSCORE_FALLBACK_MAX_LENGTH
    model = transformers.AutoModel.from_pretrained(directory)
    model.eval()
    encoder = getattr(model, "encoder", None)
    layers = getattr(encoder, "layer", None)
    truncated = layers is not None
    if truncated:  # bert-score get_model(): keep the first num_layers layers, use the last hidden state
        if not 0 <= num_layers <= len(layers):
            raise _BadNumLayers(f"num_layers={num_layers} but the model has {len(layers)} layers")
        encoder.layer = torch.nn.ModuleList(list(layers)[:num_layers])
    model.to(device)
    return tokenizer, model, max_length, truncated


def _bertscore_encode(tokenizer, text: str, max_length: int) -> list[int]:
    text = text.strip()  # bert-score sent_encode
    if not text:
        return [tokenizer.cls_token_id, tokenizer.sep_token_id]
    return tokenizer.encode(text, add_special_tokens=True, max_length=max_length, truncation=True)


def bertscore(
    predictions: Sequence[str],
    references: Sequence[str],
    *,
    model_path: str | None = None,
    num_layers: int = OLAPH_BERTSCORE_NUM_LAYERS,
    batch_size: int = 64,
    device: str = "cpu",
    allow_download: bool = False,
) -> list[float]:
    """BERTScore F1 (0-1) per (prediction, reference) pair, as OLAPH's ``bert_score.score([pred], [answer], lang='en')``.

    ``model_path``: a local folder or hub id; default ``$MEDXPERT_BERTSCORE_MODEL`` or ``roberta-large`` (from the
    Hugging Face cache). ``num_layers`` 17 is bert-score's layer for roberta-large; change it together with the model.
    Raises MetricUnavailable if torch/transformers or the model weights are missing.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        return []
    spec = model_path or os.environ.get(ENV_BERTSCORE_MODEL) or OLAPH_BERTSCORE_MODEL
    torch, _ = _import_torch_transformers("BERTScore")
    unavailable = _unavailable_factory(
        model_id=OLAPH_BERTSCORE_MODEL,
        role=f"BERTScore model {spec!r}",
        env_var=ENV_BERTSCORE_MODEL,
        folder="/path/to/roberta-large",
    )
    directory = _resolve_model_dir(spec, allow_download=allow_download, unavailable=unavailable)
    try:
        tokenizer, model, max_length, truncated = _load_bertscore_model(directory, num_layers, device)
    except _BadNumLayers:
        raise
    except (OSError, ValueError, KeyError, AttributeError) as exc:  # 4.x: AttributeError on a non-model folder
        raise unavailable(f"loading {directory!r} failed ({type(exc).__name__}: {exc})") from exc

    special = {tokenizer.cls_token_id, tokenizer.sep_token_id}
    preds = [p or "" for p in predictions]
    refs = [r or "" for r in references]
    ids = {s: _bertscore_encode(tokenizer, s, max_length) for s in set(preds) | set(refs)}
    order = sorted(ids, key=lambda s: len(ids[s]), reverse=True)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    emb: dict[str, Any] = {}
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(ids[s]) for s in chunk)
            input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for i, s in enumerate(chunk):
                input_ids[i, : len(ids[s])] = torch.tensor(ids[s], dtype=torch.long)
                mask[i, : len(ids[s])] = 1
            out = model(input_ids.to(device), attention_mask=mask.to(device), output_hidden_states=not truncated)
            hidden = out[0] if truncated else out.hidden_states[num_layers]
            hidden = hidden.float().cpu()
            for i, s in enumerate(chunk):
                e = hidden[i, : len(ids[s])]
                emb[s] = e / torch.norm(e, dim=-1, keepdim=True)

    scores: list[float] = []
    for p, r in zip(preds, refs):
        hyp_ids, ref_ids = ids[p], ids[r]
        if all(t in special for t in hyp_ids) or all(t in special for t in ref_ids):
            scores.append(0.0)  # bert-score: empty candidate/reference -> all idf weights 0 -> NaN F -> 0
            continue
        sim = emb[p] @ emb[r].T  # [hyp tokens, ref tokens], special tokens included in the max
        hyp_w = torch.tensor([0.0 if t in special else 1.0 for t in hyp_ids])
        ref_w = torch.tensor([0.0 if t in special else 1.0 for t in ref_ids])
        precision = float((sim.max(dim=1).values * hyp_w).sum() / hyp_w.sum())
        recall = float((sim.max(dim=0).values * ref_w).sum() / ref_w.sum())
        f1 = 2 * precision * recall / (precision + recall) if precision + recall != 0 else float("nan")
        scores.append(0.0 if math.isnan(f1) else f1)
    return scores




class NLIScorer:
    """OLAPH's model-based factuality rule (``HALLUCINATION``/``COMPREHENSIVENESS`` with ``use_gpt=False``).

    Despite the name this is a *similarity* rule, exactly as in OLAPH: the answer and each statement are embedded
    with ``gsarti/biobert-nli`` (mean pooling of the last hidden state over the attention mask, inputs truncated to
    512 tokens), and a statement is labelled ``"entailment"`` when the cosine similarity is >= 0.5, otherwise
    ``"contradiction"``. ``"neutral"`` is never produced. Feed the labels to :func:`factuality_from_labels`, or call
    :meth:`factuality`.

    ``model_path``: local folder or hub id (default: ``$MEDXPERT_NLI_MODEL``, else ``gsarti/biobert-nli`` from the
    Hugging Face cache). Nothing is downloaded unless ``allow_download=True``; a missing model raises
    MetricUnavailable explaining how to provide it.
    """

    def __init__(
        self,
        model_path: str | None = None,
        device: str = "cpu",
        batch_size: int = 32,
        *,
        threshold: float = OLAPH_SIMILARITY_THRESHOLD,
        max_length: int = OLAPH_NLI_MAX_LENGTH,
        allow_download: bool = False,
    ):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model_path = model_path or os.environ.get(ENV_NLI_MODEL) or OLAPH_NLI_MODEL
        self.device = device
        self.batch_size = int(batch_size)
        self.threshold = float(threshold)
        self.max_length = int(max_length)
        unavailable = _unavailable_factory(
            model_id=OLAPH_NLI_MODEL,
            role=f"OLAPH's factuality (BioBERT-NLI) model {self.model_path!r}",
            env_var=ENV_NLI_MODEL,
            folder="/path/to/biobert-nli",
        )
        torch, transformers = _import_torch_transformers("NLIScorer")
        self._torch = torch
        directory = _resolve_model_dir(self.model_path, allow_download=allow_download, unavailable=unavailable)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
            self.model = transformers.AutoModel.from_pretrained(directory)  # OLAPH: AutoModel (encoder, no head)
        except (OSError, ValueError, KeyError, AttributeError) as exc:  # 4.x: AttributeError on a non-model folder
            raise unavailable(f"loading {directory!r} failed ({type(exc).__name__}: {exc})") from exc
        self.model.eval()
        self.model.to(device)
        self.model_dir = directory

    # -- embeddings -------------------------------------------------------------------------------
    def _embed(self, texts: Sequence[str]):
        """Mean-pooled last hidden states, [len(texts), hidden] float32 on CPU (OLAPH's mean_pooling)."""
        torch = self._torch
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            enc = self.tokenizer(
                batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            ).to(self.device)
            with torch.no_grad():
                out = self.model(**enc)
            tokens = out[0]
            mask = enc["attention_mask"].unsqueeze(-1).expand(tokens.size()).float()
            pooled = torch.sum(tokens * mask, 1) / torch.clamp(mask.sum(1), min=1e-9)
            chunks.append(pooled.float().cpu())
        if not chunks:
            return torch.zeros((0, 0))
        return torch.cat(chunks, dim=0)

    def similarities(self, answer: str, statements: Sequence[str]) -> list[float]:
        """Cosine similarity between the (stripped) answer and each statement, as OLAPH computes it."""
        statements = list(statements)
        if not statements:
            return []
        torch = self._torch
        answer_emb = self._embed([(answer or "").strip()])  # [1, H]
        statement_emb = self._embed(statements)  # [n, H]
        cos = torch.nn.functional.cosine_similarity(answer_emb, statement_emb, dim=-1, eps=1e-8)
        return [float(c) for c in cos.tolist()]

    def labels(self, answer: str, statements: Sequence[str]) -> list[str]:
        """Per statement: "entailment" if cosine >= threshold (0.5) else "contradiction" (OLAPH's rule)."""
        return [self.label_for(c) for c in self.similarities(answer, statements)]

    def label_for(self, cosine: float) -> str:
        return "entailment" if cosine >= self.threshold else "contradiction"

    def factuality(
        self, answer: str, must_have: Iterable[str], nice_to_have: Iterable[str], *, empty_as_zero: bool = True
    ) -> dict[str, float]:
        """OLAPH's ``hallucination`` and ``comprehensiveness`` (0-100) for one answer."""
        must = list(must_have or [])
        nice = list(nice_to_have or [])
        return factuality_from_labels(self.labels(answer, must + nice), len(must), empty_as_zero=empty_as_zero)
