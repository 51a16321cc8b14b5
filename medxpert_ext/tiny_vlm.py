"""Build a tiny random-weight vision-language model + processor fully offline.

The result is a normal Hugging Face Llava folder (``config.json``, ``model.safetensors``, tokenizer files,
``processor_config.json`` (image processor included), ``chat_template.jinja``) that
``AutoModelForImageTextToText`` / ``AutoProcessor.from_pretrained`` and lm-eval's ``hf-multimodal`` backend
can load::

    lm_eval --model hf-multimodal --model_args pretrained=<folder>,max_images=1 --apply_chat_template ...

Recipe: ``LlavaForConditionalGeneration`` = a 2-layer CLIP vision tower (32 px images, 8 px patches -> 16
patches + CLS) + a 2-layer Llama (hidden 64), with a ``LlavaProcessor`` = ``CLIPImageProcessor`` (resize and
centre-crop to 32x32) + the same kind of byte-level BPE tokenizer as :mod:`medxpert_ext.tiny_model`, trained
with an extra ``<image>`` special token. ``vision_feature_select_strategy="default"`` drops the CLS feature, so
each ``<image>`` in the prompt is expanded by the processor to 16 image tokens, matching the 16 patch
features the model inserts. Any number of images per prompt works (one ``<image>`` per image).

Its outputs are gibberish; it exists so tests can drive lm-eval's real multimodal transformers path without
network access or downloaded weights. torch / transformers / tokenizers are imported lazily inside
:func:`build_tiny_vlm` so that importing this module stays light.
"""

from __future__ import annotations

from pathlib import Path

from .errors import require
from .tiny_model import build_atomically, build_tokenizer, is_complete, save_quietly

__all__ = [
    "IMAGE_SEQ_LENGTH",
    "IMAGE_SIZE",
    "IMAGE_TOKEN",
    "PATCH_SIZE",
    "TINY_VLM_FORMAT",
    "build_tiny_vlm",
    "is_tiny_vlm_dir",
]

#: Bump when the recipe changes so stale folders get rebuilt.
TINY_VLM_FORMAT = 1
_MARKER = "tiny_vlm.json"  # written last: its presence means "complete"
_REQUIRED = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "processor_config.json",
)

IMAGE_TOKEN = "<image>"
IMAGE_SIZE = 32
PATCH_SIZE = 8
#: image tokens per image: patches only (the CLS feature is dropped by the "default" strategy)
IMAGE_SEQ_LENGTH = (IMAGE_SIZE // PATCH_SIZE) ** 2

# ChatML-style template rendering OpenAI/HF-style content parts: text parts verbatim, each image part as one
# <image> (the processor expands it to IMAGE_SEQ_LENGTH tokens). Plain string content also works.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] == 'image' %}{{ '<image>' }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def is_tiny_vlm_dir(path: str | Path, *, seed: int | None = None) -> bool:
    """True if *path* holds a complete tiny VLM (of the current format)."""
    return is_complete(path, _MARKER, TINY_VLM_FORMAT, _REQUIRED, seed)


def _build_processor(tokenizer):
    from transformers import LlavaProcessor

    try:  # transformers 5: the PIL backend needs no torchvision (it saves as plain "CLIPImageProcessor")
        from transformers import CLIPImageProcessorPil as ImageProcessor
    except ImportError:  # transformers 4.x
        from transformers import CLIPImageProcessor as ImageProcessor

    image_processor = ImageProcessor(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        do_resize=True,
        do_center_crop=True,
        do_convert_rgb=True,  # grey / palette / RGBA images become 3-channel
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token
        chat_template=CHAT_TEMPLATE,
        image_token=IMAGE_TOKEN,
    )


def _build_model(tokenizer, seed: int):
    import torch
    from transformers import (
        CLIPVisionConfig,
        GenerationConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    text_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        # Larger than the default 0.02 so greedy decoding yields varied tokens (see tiny_model.py).
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision_config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
        projection_dim=32,
    )
    config = LlavaConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        image_seq_length=IMAGE_SEQ_LENGTH,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
        projector_hidden_act="gelu",
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).to(torch.float32).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    return model


def build_tiny_vlm(out_dir: str | Path, *, seed: int = 0) -> Path:
    """Build (or reuse) a tiny random Llava model + processor in *out_dir*.

    Idempotent: if *out_dir* already holds a complete model built with the same *seed* it is returned
    untouched. Files are written to a temporary sibling folder first and the completion marker is moved in
    last, so an interrupted build never looks complete.
    """
    for module in ("torch", "transformers", "tokenizers", "PIL"):  # one line naming the extra, before any work
        require(module, "the offline tiny VLM")
    out = Path(out_dir).expanduser().resolve()
    if is_tiny_vlm_dir(out, seed=seed):
        return out

    def write(folder: Path) -> None:
        tokenizer = build_tokenizer(extra_special=(IMAGE_TOKEN,), chat_template=CHAT_TEMPLATE)
        processor = _build_processor(tokenizer)
        save_quietly(_build_model(tokenizer, seed), folder)
        processor.save_pretrained(folder)  # tokenizer, image processor, chat template, processor config

    return build_atomically(out, _MARKER, TINY_VLM_FORMAT, seed, write)

if __name__ == "__main__":  # pragma: no cover - manual helper
    import sys

    print(build_tiny_vlm(sys.argv[1] if len(sys.argv) > 1 else "tiny-vlm"))
