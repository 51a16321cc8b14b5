"""The public entry points: :func:`prepare` a local copy, or :func:`download_and_prepare` the pinned hub copy.

Source tree -> converter -> writer -> checksums, built in a temporary sibling folder and swapped in by rename.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

from ..errors import DataError
from .convert import _CONVERTERS
from .sources import _ALLOW_PATTERNS, VQAMED2021_HINT, VqaSource, _source
from .store import _swap_in, _umask, _Writer, write_checksums
from .trees import _open_source

# One logger for the whole package, under the name it had as a single module (users and tests filter on it).
log = logging.getLogger("medxpert_ext.vqa_prepare")


def prepare(name: str, source: str | os.PathLike[str], root: str | os.PathLike[str]) -> Path:
    """Convert ``source`` (hub snapshot folder, official archive or its extracted folder) to ``<root>/vqa/<name>``.

    Idempotent: the folder is rebuilt in a temporary sibling and swapped in by rename, so re-running replaces it
    and an interrupted run leaves the previous folder untouched.
    """
    spec = _source(name)
    source = Path(source).expanduser()
    target = Path(root).expanduser() / "vqa" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the prepared folder gets normal permissions
    try:
        with ExitStack() as stack:
            tree = _open_source(source, stack)
            writer = _Writer(tmp, name)
            for record, image in _CONVERTERS[name](name, tree, stack):
                writer.add(record, image)
        if not writer.records:
            raise DataError(f"{source}: no {spec.title} questions found")
        writer.finish(tmp)
        write_checksums(tmp)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    count = len(writer.records)
    if spec.expected_rows is not None and count != spec.expected_rows:
        log.warning("%s: %d questions, the documented test set has %d (a different mirror or revision?)",
                    name, count, spec.expected_rows)
    log.info("%s: wrote %d questions and %d images to %s", name, count, len(writer.used), target)
    return target



def _gated_message(spec: VqaSource, detail: str) -> str:
    return (f"{spec.title} ({spec.repo}) is gated on the Hugging Face hub and {detail}: log in at "
            f"https://huggingface.co/datasets/{spec.repo}, accept the dataset terms, create a read token "
            f"(https://huggingface.co/settings/tokens) and set HF_TOKEN=<token> (or run `hf auth login`), "
            f"then retry; or download it yourself and run `medxpert data prepare {spec.name} <folder>`")


def download_and_prepare(name: str, root: str | os.PathLike[str]) -> Path:
    """Download the pinned hub snapshot of ``name`` (only the files prepare reads), then :func:`prepare` it."""
    spec = _source(name)
    if spec.repo is None:
        raise DataError(VQAMED2021_HINT if name == "vqamed2021" else f"{spec.title} has no hub source")
    import huggingface_hub

    try:
        from huggingface_hub import errors as hf_errors
    except ImportError:  # huggingface_hub < 0.24 exports the same classes from utils
        from huggingface_hub import utils as hf_errors  # type: ignore[no-redef]

    if spec.gated and not huggingface_hub.get_token():
        raise DataError(_gated_message(spec, "no Hugging Face token was found"))
    try:
        path = huggingface_hub.snapshot_download(
            spec.repo, revision=spec.revision, repo_type="dataset", allow_patterns=_ALLOW_PATTERNS.get(name)
        )
    except hf_errors.GatedRepoError:
        raise DataError(_gated_message(spec, "your token has no access to it yet")) from None
    except hf_errors.RevisionNotFoundError:
        raise DataError(f"{spec.repo}: pinned revision {spec.revision} not found on the hub; download the "
                        f"dataset yourself and run `medxpert data prepare {name} <folder>`") from None
    except hf_errors.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if spec.gated and (status in (401, 403) or isinstance(exc, hf_errors.RepositoryNotFoundError)):
            raise DataError(_gated_message(spec, f"the hub refused the download (HTTP {status})")) from None
        raise DataError(f"{spec.repo}: download failed ({exc}); check HF_TOKEN and the network, or download "
                        f"it yourself and run `medxpert data prepare {name} <folder>`") from None
    except Exception as exc:  # noqa: BLE001 - offline, LocalEntryNotFoundError, any HTTP client's connection errors
        raise DataError(f"{spec.repo}: could not download ({exc}); without network access, copy the dataset "
                        f"here and run `medxpert data prepare {name} <folder>`") from None
    return prepare(name, Path(str(path)), root)
