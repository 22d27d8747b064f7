"""``catsmt`` command line: thin subcommands over the library.

Every subcommand parses its arguments, calls one library function, and turns the library's
documented errors into a one-line message and a non-zero exit code.

- :mod:`~catsmt.cli.parser` builds the argument parser, one function per subcommand;
- the subcommands, by theme: :mod:`~catsmt.cli.data` (``data list``, ``data get``,
  ``prepare``), :mod:`~catsmt.cli.reference` (``methods``, ``config``),
  :mod:`~catsmt.cli.train`, :mod:`~catsmt.cli.translate` (``translate``, ``evaluate``,
  ``export``) and :mod:`~catsmt.cli.experiments` (``compare``, ``demo``, ``analyze``,
  ``bench``);
- :mod:`~catsmt.cli.common`: :class:`UsageError` and the checks several subcommands share;
- :func:`main` here: parse, run, and map errors to exit codes (2 usage, 1 failure, 130
  interrupted).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from catsmt.cli.common import UsageError
from catsmt.cli.parser import build_parser
from catsmt.cli.reference import config_reference

__all__ = ["UsageError", "build_parser", "config_reference", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``catsmt`` console script."""
    from catsmt.config import ConfigError
    from catsmt.data.errors import DataError
    from catsmt.report.compare import CompareStopped
    from catsmt.run.checkpoint import CheckpointError
    from catsmt.run.folder import RunDirError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse gives a trailing ``key=value`` list only the words before the first option, so
    # ``data get NAME --out DIR sizes=[...]`` would be refused: collect the later ones too.
    trailing = next((k for k in ("options", "overrides") if isinstance(getattr(args, k, None), list)), None)
    if extra and trailing and all("=" in a and not a.startswith("-") for a in extra):
        getattr(args, trailing).extend(extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except UsageError as e:
        print(f"catsmt: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except (ConfigError, DataError, CheckpointError, RunDirError, CompareStopped, ValueError) as e:
        print(f"catsmt: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except OSError as e:  # a full disk, a folder that is not writable: the message names the path
        print(f"catsmt: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("catsmt: interrupted", file=sys.stderr)
        return 130


def _one_line(e: BaseException) -> str:
    """An error message on one line (YAML errors, for one, span several with a caret line)."""
    lines = [line.strip() for line in str(e).splitlines()]
    return " ".join(line for line in lines if line and set(line) != {"^"})

