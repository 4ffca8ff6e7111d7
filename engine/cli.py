"""The `tdmm` command.

Subcommands come from the `tdmm.commands` entry-point group (pyproject.toml):
each entry names a function `add_command(subparsers)` that adds its parser and
sets `func`. This keeps engine free of imports from training or tdmm_blender
while one command reaches all of them. Only the chosen command's module is
imported, so `tdmm head` never pays for bpy and a broken plugin cannot break
the others.

Errors (docs/ARCHITECTURE.md, "The error policy"): an InputError or another ValueError,
a missing file, an OS refusal or a RuntimeError is the user's to fix and prints one line,
`tdmm <command>: error: <message>`, exit 1; bad usage is argparse's exit 2; anything else is
a bug of ours and prints one line asking for `--debug`, exit 3; Ctrl-C exits 130. `--debug`
(anywhere on the line) shows the traceback instead.
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


EXIT_INPUT, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPT = 1, 2, 3, 130


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    chosen = next((a for a in argv if not a.startswith("-")), None)
    name = f"tdmm {chosen}" if chosen else "tdmm"
    try:
        commands = _commands()
        parser = build_parser(chosen if chosen in commands else None, commands)
        parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USAGE
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        # Writers clean up in their own `finally` blocks on the way out.
        print(f"{name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPT
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as err:
        if debug:
            raise
        if isinstance(err, RecursionError):             # a RuntimeError, but never the user's to fix
            return _bug(name, err)
        # Our errors already say what to do; a traceback would only hide that.
        print(f"{name}: error: {_describe(err)}", file=sys.stderr)
        return EXIT_INPUT
    except Exception as err:                            # noqa: BLE001 -- the last line of defence
        if debug:
            raise
        return _bug(name, err)


def _bug(name: str, err: BaseException) -> int:
    print(f"{name}: internal error ({type(err).__name__}: {err}); this is a bug in tdmm: rerun with "
          "--debug for details and report it", file=sys.stderr)
    return EXIT_BUG


def _describe(err: BaseException) -> str:
    """One line for an error: ours as written; an OS error with the file it names."""
    if isinstance(err, OSError) and not isinstance(err, FileNotFoundError) and err.filename is not None:
        return f"{err.filename}: {err.strerror or err}"
    if isinstance(err, FileNotFoundError) and err.filename is not None and str(err.filename) not in str(err.args):
        return f"{err.filename}: does not exist"
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0] if "\n" in text else text


if __name__ == "__main__":
    sys.exit(main())
