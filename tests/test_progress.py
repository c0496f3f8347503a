"""The command-line progress bar: log lines printed while it runs stay readable."""

from __future__ import annotations

import logging
import re
import sys

from celcolor.progress import progress_bar


def test_log_lines_go_above_the_bar_not_onto_its_end(capsys):
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)  # as the CLI's logging.basicConfig sets up
    handler.setFormatter(logging.Formatter("colorize-video: %(levelname)s: %(message)s"))
    root.addHandler(handler)
    try:
        update, close = progress_bar(False, "cut.mp4")
        update(3, 10)
        logging.getLogger("celcolor.test").warning("frame 3: most of its lines are new")
        update(10, 10)
        close()
        assert handler in root.handlers  # the CLI's own handler is back once the bar is gone
    finally:
        root.removeHandler(handler)
    pieces = re.split(r"[\r\n]", capsys.readouterr().err)
    assert "colorize-video: WARNING: frame 3: most of its lines are new" in pieces


def test_a_quiet_bar_prints_nothing(capsys):
    update, close = progress_bar(True, "cut.mp4")
    update(1, 2)
    close()
    assert capsys.readouterr().err == ""
