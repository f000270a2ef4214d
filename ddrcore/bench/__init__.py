"""Benchmarks: one-class accuracy against the paper's baselines, speed, object detection, fields.

Nothing in the engine imports this package; ``ddrid bench`` registers its
subcommands through :func:`add_parser`.
"""
from .commands import add_parser

__all__ = ["add_parser"]
