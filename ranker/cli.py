"""Run a command-line `main` so that bad input ends in one clear line, not a traceback."""

from __future__ import annotations

import logging
import sys
from typing import Callable

log = logging.getLogger("ranker")


def run_cli(main: Callable[[], object]) -> None:
    try:
        main()
    except (ValueError, FileNotFoundError) as error:  # DataError is a ValueError
        logging.basicConfig(level=logging.INFO)
        log.error("%s", error)
        sys.exit(2)
