"""One converter per source family, and the registry that maps each dataset name to its converter.

Each converter takes ``(name, tree, stack)`` (the dataset name, the source tree, an :class:`~contextlib.ExitStack`
for nested archives it opens) and yields ``(record without "image", image)`` in a deterministic order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

from ..trees import _Tree
from .common import Item
from .hub_yes_no import _convert_hub_yes_no
from .omnimedvqa import _convert_omnimedvqa
from .pmcvqa import _convert_pmcvqa
from .quilt import _convert_quilt
from .slake import _convert_slake
from .vqamed2021 import _convert_vqamed2021

_CONVERTERS: dict[str, Callable[[str, _Tree, ExitStack], Iterator[Item]]] = {
    "vqarad": _convert_hub_yes_no,
    "pathvqa": _convert_hub_yes_no,
    "slake": _convert_slake,
    "pmcvqa": _convert_pmcvqa,
    "vqamed2021": _convert_vqamed2021,
    "quiltvqa": _convert_quilt,
    "omnimedvqa": _convert_omnimedvqa,
}
