"""Build a tiny random-weight causal LM + tokenizer fully offline.

The result is a normal Hugging Face model folder (``config.json``,
``model.safetensors``, ``tokenizer.json``, ``tokenizer_config.json``,
``generation_config.json``) that ``AutoModelForCausalLM`` /
``AutoTokenizer.from_pretrained`` and lm-eval's ``hf`` backend can load::

    lm_eval --model hf --model_args pretrained=<folder> --apply_chat_template ...

Its outputs are gibberish; it exists so tests and ``medxpert demo`` can drive
the whole pipeline without network access or downloaded weights.

torch / transformers / tokenizers are imported lazily inside
:func:`build_tiny_model` so that importing this module stays light.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import require

__all__ = ["build_tiny_model", "is_tiny_model_dir", "TINY_MODEL_FORMAT"]

#: Bump when the recipe changes so stale folders get rebuilt.
TINY_MODEL_FORMAT = 1
_MARKER = "tiny_model.json"  # written last: its presence means "complete"
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")

BOS, EOS, PAD = "<s>", "<|im_end|>", "<pad>"
IM_START = "<|im_start|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, IM_START]

# ChatML-style template. Accepts string content or OpenAI-style lists of
# parts (only the text parts are rendered; this is a text-only model).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Small built-in corpus for training the byte-level BPE (deterministic).
_CORPUS = """\
A 45-year-old man presents to the emergency department with chest pain, shortness
of breath and diaphoresis. His blood pressure is 150/90 mmHg, heart rate 110 beats
per minute, respiratory rate 22 breaths per minute and oxygen saturation 94% on room
air. An electrocardiogram shows ST-segment elevation in leads II, III and aVF. Which
of the following is the most appropriate next step in management?
A 6-year-old girl is brought to the clinic because of fever, cough and a rash that
began on her face and spread to the trunk. Examination shows conjunctivitis and small
white spots on the buccal mucosa. Which of the following is the most likely diagnosis?
A 68-year-old woman with a history of hypertension, type 2 diabetes mellitus and
chronic kidney disease is evaluated for fatigue. Laboratory studies show hemoglobin
9.1 g/dL, creatinine 2.4 mg/dL, potassium 5.6 mEq/L and glucose 182 mg/dL.
Answer Choices: (A) aspirin (B) heparin (C) metoprolol (D) nitroglycerin (E) alteplase
(F) percutaneous coronary intervention (G) observation (H) computed tomography
(I) magnetic resonance imaging (J) echocardiography
The answer is (B). Let's think step by step. The patient most likely has an acute
inferior myocardial infarction caused by occlusion of the right coronary artery.
Radiograph, biopsy, histology, pathology, pharmacology, microbiology, immunology,
neurology, cardiology, nephrology, oncology, dermatology, pediatrics, obstetrics,
gynecology, psychiatry, surgery, anesthesia, radiology, ophthalmology, endocrinology.
Medication, dosage, adverse effect, contraindication, mechanism of action, receptor,
enzyme, inhibitor, antibiotic, antiviral, vaccine, infection, inflammation, tumor.
The image shows a well-circumscribed lesion with peripheral enhancement.
Question: What is the best initial test? Answer: The best initial test is a complete
blood count with differential, followed by blood cultures and a chest X-ray.
"""


def _corpus_lines() -> list[str]:
    lines = [ln for ln in _CORPUS.splitlines() if ln.strip()]
    lines += [" ".join(str(n) for n in range(i, i + 20)) for i in range(0, 1000, 20)]
    return lines * 3


def is_complete(path: str | Path, marker: str, fmt: int, required: tuple[str, ...], seed: int | None) -> bool:
    """True if *path* holds a complete build: its marker (written last) names this format (and seed)."""
    path = Path(path)
    try:
        meta = json.loads((path / marker).read_text())
    except (OSError, ValueError):
        return False
    if meta.get("format") != fmt:
        return False
    if seed is not None and meta.get("seed") != seed:
        return False
    return all((path / name).is_file() for name in required)


def build_atomically(out_dir: str | Path, marker: str, fmt: int, seed: int, write: Callable[[Path], None]) -> Path:
    """Run *write* into a temporary sibling folder, then move the files into *out_dir*, the marker last, so an
    interrupted build never looks complete."""
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        write(tmp)
        (tmp / marker).write_text(json.dumps({"format": fmt, "seed": seed}, indent=2) + "\n")
        (out / marker).unlink(missing_ok=True)
        for src in sorted(tmp.iterdir(), key=lambda p: p.name == marker):
            os.replace(src, out / src.name)  # marker last
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def is_tiny_model_dir(path: str | Path, *, seed: int | None = None) -> bool:
    """True if *path* holds a complete tiny model (of the current format)."""
    return is_complete(path, _MARKER, TINY_MODEL_FORMAT, _REQUIRED, seed)


def build_tokenizer(extra_special: tuple[str, ...] = (), chat_template: str = CHAT_TEMPLATE):
    """Byte-level BPE trained in-process on a small built-in medical text (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2048,
        min_frequency=1,
        special_tokens=[*SPECIAL_TOKENS, *extra_special],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus_lines(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START, *extra_special],
        chat_template=chat_template,
        model_max_length=2048,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_input_names=["input_ids", "attention_mask"],  # transformers 4.x adds token_type_ids otherwise
    )


def _build_model(tokenizer, seed: int):
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        # Larger than the default 0.02 so greedy decoding yields varied
        # tokens instead of one repeated token.
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    return model


def save_quietly(model, path: Path) -> None:
    """``save_pretrained`` without the "Writing model shards" progress bar."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(path)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def build_tiny_model(out_dir: str | Path, *, seed: int = 0) -> Path:
    """Build (or reuse) a tiny random Llama model + BPE tokenizer in *out_dir*.

    Idempotent: if *out_dir* already holds a complete model built with the same
    *seed* it is returned untouched. Files are written to a temporary sibling
    folder first and the completion marker is moved in last, so an interrupted
    build never looks complete.
    """
    for module in ("torch", "transformers", "tokenizers"):  # one line naming the extra, before any work
        require(module, "the offline tiny model (medxpert demo)")
    out = Path(out_dir).expanduser().resolve()
    if is_tiny_model_dir(out, seed=seed):
        return out

    def write(folder: Path) -> None:
        tokenizer = build_tokenizer()
        save_quietly(_build_model(tokenizer, seed), folder)
        tokenizer.save_pretrained(folder)

    return build_atomically(out, _MARKER, TINY_MODEL_FORMAT, seed, write)

if __name__ == "__main__":  # pragma: no cover - manual helper
    import sys

    print(build_tiny_model(sys.argv[1] if len(sys.argv) > 1 else "tiny-model"))
