"""Warnings kept, instead of printed or as well: for the bench, batch workers, run records."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class _Capture(logging.Handler):
    """Keeps warnings' messages; hands lesser records to the root logger, or drops them."""

    def __init__(self, pass_on: bool) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.pass_on = pass_on

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.messages.append(record.getMessage())
        elif self.pass_on:
            logging.getLogger().handle(record)


@contextmanager
def captured_warnings(name: str = "celcolor", pass_on: bool = False) -> Iterator[list[str]]:
    """Collect what logger ``name`` (and its children) warn of, instead of printing it.

    Args:
        name: the logger to capture.
        pass_on: hand records below warning level on to the root logger's handlers
            (so ``-v`` still shows them); otherwise they are dropped.

    Yields the list the messages are appended to, in order.
    """
    logger = logging.getLogger(name)
    handler = _Capture(pass_on)
    old = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = old


@contextmanager
def collected_warnings(name: str = "celcolor") -> Iterator[list[str]]:
    """Collect what logger ``name`` (and its children) warn of, still printing it as usual.

    Yields the list the messages are appended to, in order.
    """
    logger = logging.getLogger(name)
    handler = _Capture(pass_on=False)  # the logger still propagates: printed as usual
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
