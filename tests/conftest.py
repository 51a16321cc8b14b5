"""Shared pytest fixtures: scripted OpenAI-compatible servers and a tiny HF model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:  # make `tests.*` and `medxpert_ext` importable under plain `pytest`
    sys.path.insert(0, _REPO)

from tests.scripted_server import ScriptedServer  # noqa: E402


@pytest.fixture
def scripted_server():
    """Factory: ``make(responder, latency=0.0) -> ScriptedServer`` (started; stopped at teardown)."""
    servers: list[ScriptedServer] = []

    def make(responder, latency: float = 0.0, **kwargs) -> ScriptedServer:
        server = ScriptedServer(responder, latency=latency, **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Llama model + tokenizer folder, built once per test session."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from medxpert_ext.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_model") / "model")


@pytest.fixture(scope="session")
def mm_images_root(tmp_path_factory) -> Path:
    """A data root holding the real ../shared/data files plus generated placeholder MM images.

    The shared folder has no images (images.zip is 517 MB); the question files are linked, not copied.
    """
    from tests.helpers import SHARED_DATA, make_placeholder_images

    if not (SHARED_DATA / "medxpertqa" / "mm_test.jsonl").is_file():
        pytest.skip(f"real benchmark data not found at {SHARED_DATA}")
    root = tmp_path_factory.mktemp("data_root")
    (root / "medxpertqa").mkdir()
    for f in (SHARED_DATA / "medxpertqa").glob("*.jsonl"):
        (root / "medxpertqa" / f.name).symlink_to(f)
    (root / "medbench").symlink_to(SHARED_DATA / "medbench")
    make_placeholder_images(root)
    return root


@pytest.fixture(scope="session")
def tiny_nli_dir(tmp_path_factory) -> Path:
    from tests.tiny_encoders import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny_biobert_nli"))


@pytest.fixture(scope="session")
def tiny_roberta_dir(tmp_path_factory) -> Path:
    from tests.tiny_encoders import build_tiny_roberta

    return build_tiny_roberta(tmp_path_factory.mktemp("tiny_roberta"))
