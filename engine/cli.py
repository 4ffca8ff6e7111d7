"""The `tdmm` command.

Subcommands come from the `tdmm.commands` entry-point group (pyproject.toml):
each entry names a function `add_command(subparsers)` that adds its parser and
sets `func`. This keeps engine free of imports from training or tdmm_blender
while one command reaches all of them. Only the chosen command's module is
imported, so `tdmm head` never pays for bpy and a broken plugin cannot break
the others.
"""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points


def _commands() -> dict:
    found = {ep.name: ep for ep in entry_points(group="tdmm.commands")}
    return found or _checkout_commands()


def _checkout_commands() -> dict:
    """Not pip-installed (e.g. `python -m engine.cli` on the GPU machine): read the
    same table from the checkout's pyproject.toml."""
    import tomllib
    from importlib.metadata import EntryPoint
    from pathlib import Path

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.exists():
        return {}
    table = tomllib.loads(pyproject.read_text())["project"]["entry-points"]["tdmm.commands"]
    return {name: EntryPoint(name, value, "tdmm.commands") for name, value in table.items()}


def build_parser(only: str | None = None, commands: dict | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tdmm", description="Face animation <-> language tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, ep in sorted((_commands() if commands is None else commands).items()):
        if only is not None and name != only:
            continue
        try:
            ep.load()(sub)
        except ImportError as err:  # e.g. bpy missing: say so instead of failing every command
            sub.add_parser(name, help=f"(unavailable: {err})")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if not a.startswith("-")), None)
    commands = _commands()
    parser = build_parser(chosen if chosen in commands else None, commands)
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
