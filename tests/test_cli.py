"""The tdmm command: plugin subcommands, clean errors."""
from importlib.metadata import entry_points

from engine import cli


def test_checkout_table_matches_installed_entry_points():
    installed = {ep.name: ep.value for ep in entry_points(group="tdmm.commands")}
    checkout = {name: ep.value for name, ep in cli._checkout_commands().items()}
    assert checkout == installed and {"head", "demo", "synth", "train"} <= set(checkout)


def test_head_info_runs(capsys):
    assert cli.main(["head", "info"]) == 0
    assert '"vertices": 4926' in capsys.readouterr().out


def test_bad_input_is_a_one_line_error(capsys, tmp_path):
    assert cli.main(["head", "info", str(tmp_path / "missing.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
