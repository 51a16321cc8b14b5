"""medxpert-ext: medical benchmarks for the harnesses people already run (lm-eval, OpenCompass)."""

__version__ = "0.1.0"
