"""The mixed-modality work-around for lm-eval's multimodal backends (see medxpert_ext/harness/lmeval_compat.py)."""

from __future__ import annotations

from types import SimpleNamespace

from medxpert_ext.harness.lmeval_compat import _split_by_modality


class FakeBackend:
    """Mimics lm-eval 0.4.13: decides by the FIRST request whether the whole list has images."""

    def __init__(self):
        self.calls = []

    def generate_until(self, requests, disable_tqdm=False):
        self.calls.append(len(requests))
        with_images = len(requests[0].args) > 2
        return [f"{r.args[0]}:{'img' if with_images and len(r.args) > 2 else 'text'}" for r in requests]


def _req(name, image=False):
    return SimpleNamespace(args=(name, {}, {"visual": ["x"]}) if image else (name, {}))


def test_mixed_requests_are_split_and_order_kept():
    backend = FakeBackend()
    split = _split_by_modality(FakeBackend.generate_until)
    requests = [_req("t1"), _req("i1", True), _req("t2"), _req("i2", True), _req("i3", True)]
    assert FakeBackend.generate_until(backend, requests) == ["t1:text", "i1:text", "t2:text", "i2:text", "i3:text"]
    backend.calls.clear()
    assert split(backend, requests) == ["t1:text", "i1:img", "t2:text", "i2:img", "i3:img"]
    assert backend.calls == [2, 3]


def test_text_only_runs_untouched_and_images_go_in_chunks(monkeypatch):
    from medxpert_ext.harness import lmeval_compat

    monkeypatch.setattr(lmeval_compat, "IMAGE_CHUNK", 2)
    backend = FakeBackend()
    split = _split_by_modality(FakeBackend.generate_until)
    assert split(backend, [_req("a"), _req("b"), _req("c")]) == ["a:text", "b:text", "c:text"]
    assert backend.calls == [3]
    backend.calls.clear()
    images = [_req(f"i{k}", True) for k in range(5)]
    assert split(backend, [_req("t"), *images]) == ["t:text", *[f"i{k}:img" for k in range(5)]]
    assert backend.calls == [1, 2, 2, 1]  # text, then images two at a time


def test_lm_eval_api_backend_is_patched_once():
    from lm_eval.models.api_models import TemplateAPI

    from medxpert_ext.harness.lmeval_compat import patch_mixed_modalities

    import medxpert_ext.harness.lmeval  # noqa: F401  (importing the adapter applies the patch)

    assert getattr(TemplateAPI.generate_until, "_medxpert_split_by_modality", False)
    assert "lm_eval.models.api_models.TemplateAPI" not in patch_mixed_modalities()  # idempotent


def test_image_chunks_are_bounded_by_file_bytes(monkeypatch, tmp_path):
    from medxpert_ext.harness import lmeval_compat
    from medxpert_ext.images import LazyImage

    monkeypatch.setattr(lmeval_compat, "IMAGE_CHUNK_BYTES", 250)
    sizes = [100, 100, 100, 300, 50]  # bytes of each request's image file
    requests = []
    for k, n in enumerate(sizes):
        (tmp_path / f"{k}.jpg").write_bytes(b"\xff\xd8\xff" + b"x" * (n - 3))
        requests.append(SimpleNamespace(args=(f"i{k}", {}, {"visual": [LazyImage(tmp_path / f"{k}.jpg")]})))
    backend = FakeBackend()
    assert _split_by_modality(FakeBackend.generate_until)(backend, requests) == [f"i{k}:img" for k in range(5)]
    assert backend.calls == [2, 1, 1, 1]  # 100+100 | 100 (+300 > 250) | 300 alone | 50
