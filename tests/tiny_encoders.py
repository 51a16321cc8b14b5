"""Tiny random-weight encoders built offline: stand-ins for BioBERT-NLI (OLAPH's factuality encoder) and
roberta-large (BERTScore), whose weights cannot be downloaded here."""

from __future__ import annotations

from pathlib import Path

import pytest

_WORDS = (
    "the cat sat on mat a dog ran fast renal syndrome noonan disease kidney cyst is an of and with "
    "escitalopram lexapro ssri antidepressant side effects include nausea insomnia headache"
).split()


def build_tiny_bert(folder: Path, *, layers: int = 2, seed: int = 0, classifier: bool = False) -> Path:
    """A WordLevel `tokenizers` tokenizer + a random BertModel (BioBERT-NLI is a plain BertModel encoder)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_WORDS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=512,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(folder)
    return folder


def build_tiny_roberta(folder: Path, *, layers: int = 3, seed: int = 0) -> Path:
    """A byte-level BPE RobertaTokenizer (saved WITHOUT add_prefix_space) + a random RobertaModel."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        [" " + " ".join(_WORDS)] * 10,  # every word preceded by a space, so "Ġthe", "Ġcat", ... are learned
        vocab_size=600,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )
    bpe.save_model(str(folder))
    tok = RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))  # no model_max_length set
    tok.save_pretrained(folder)
    config = RobertaConfig(
        vocab_size=len(tok),
        hidden_size=16,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=514,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    torch.manual_seed(seed)
    RobertaModel(config).save_pretrained(folder)
    return folder
