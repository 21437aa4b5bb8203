"""Fixtures every test module shares."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """The CLI configures the "hex_exposures" logger (its own handler, no propagation), also
    from module-scoped fixtures; every test starts and ends with it as Python made it, so
    caplog sees its records."""

    def reset() -> None:
        logger = logging.getLogger("hex_exposures")
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)

    reset()
    yield
    reset()
