"""Errors the pack raises on purpose: each message names the file, field or sample and says what to do.

They live in a module of their own so that every layer (loaders, converters, metrics, harness adapters, CLI) can
raise and catch them without importing one another.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class DataError(Exception):
    """Bad or missing benchmark data; the message names the file, field or sample and how to fix it."""


class MissingDependency(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


# import name -> (pip package, extra of medxpert-ext that brings it). One table, so every optional import of the
# pack says the same thing and a test can check each extra really lists its package.
OPTIONAL = {
    "openai": ("openai", "api"),
    "PIL": ("pillow", "vision"),
    "torch": ("torch", "hf"),
    "transformers": ("transformers", "hf"),
    "tokenizers": ("tokenizers", "hf"),
}


def require(module: str, feature: str) -> ModuleType:
    """Import an optional dependency, or raise a one-line :class:`MissingDependency` naming the extra.

    Why not a bare ``import``: a missing optional package otherwise surfaces as a long ``ModuleNotFoundError``
    traceback from deep inside a harness, which does not tell the user which ``pip install`` fixes it.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        package, extra = OPTIONAL.get(top, (top, None))
        how = f"pip install 'medxpert-ext[{extra}]'" if extra else f"pip install {package}"
        raise MissingDependency(f"{feature} needs the '{package}' package, which is not installed ({exc.msg}); "
                                f"install it with: {how}") from None


class MetricUnavailable(RuntimeError):
    """A metric's model or package is missing; the message says which and how to get it."""
