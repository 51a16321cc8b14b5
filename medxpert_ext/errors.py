"""Errors the pack raises on purpose: each message names the file, field or sample and says what to do.

They live in a module of their own so that every layer (loaders, converters, metrics, harness adapters, CLI) can
raise and catch them without importing one another.
"""

from __future__ import annotations


class DataError(Exception):
    """Bad or missing benchmark data; the message names the file, field or sample and how to fix it."""


class MissingDependency(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


class MetricUnavailable(RuntimeError):
    """A metric's model or package is missing; the message says which and how to get it."""
