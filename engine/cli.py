"""The `tdmm` command.

Subcommands come from the `tdmm.commands` entry-point group (pyproject.toml):
each entry names a function `add_command(subparsers)` that adds its parser and
sets `func`. This keeps engine free of imports from training or tdmm_blender
while one command reaches all of them.
"""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tdmm", description="Face animation <-> language tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for ep in sorted(entry_points(group="tdmm.commands"), key=lambda e: e.name):
        ep.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        # Our errors already say what to do; a traceback would only hide that.
        print(f"tdmm {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
