"""Package data of the offline tools, read from the installed package.

Everything here works from a wheel: files are found with :mod:`importlib.resources`,
never relative to a source checkout, and nothing is ever written into the package.
"""

from __future__ import annotations

from importlib import resources


def packaged(name: str) -> str:
    """Path of ``llmcc/data/NAME`` in the installed package (e.g. ``packages.toml``,
    the corpus recipes with their train/validation splits)."""
    return str(resources.files("llmcc").joinpath("data", name))
