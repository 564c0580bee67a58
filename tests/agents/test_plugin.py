"""The agents layer plugs into rlvr_envs (command line, spec kinds) without being imported by it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rlvr_envs import commands
from rlvr_envs.agent import agent_kinds
from rlvr_envs.cli import build_parser, main
from rlvr_envs.commands import Command, register_command

ROOT = Path(__file__).resolve().parents[2]


def test_the_plugin_registers_train_and_the_model_agent_kinds() -> None:
    import agents.plugin

    agents.plugin.register()
    assert {"hf", "openai", "python"} <= set(agent_kinds())
    assert "train" in {c.name for c in commands.registered_commands()}
    assert "train" in build_parser().format_help()


def test_a_registered_subcommand_runs_from_the_command_line(monkeypatch, capsys) -> None:
    monkeypatch.setattr(commands, "_COMMANDS", dict(commands._COMMANDS))

    def configure(parser):
        parser.add_argument("--name", default="world")

    def run(args):
        print(f"hello {args.name}")
        return 3

    register_command(Command("hello", "say hello", configure, run))
    assert main(["hello", "--name", "layers"]) == 3
    assert capsys.readouterr().out == "hello layers\n"


def test_the_command_line_works_without_the_agents_package() -> None:
    code = (
        "import sys\n"
        "sys.modules['agents'] = None\n"
        "from rlvr_envs.cli import main\n"
        "assert main(['list']) == 0\n"
        "try:\n"
        "    main(['train'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 2\n"
        "else:\n"
        "    raise AssertionError('train ran without the agents package')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "invalid choice: 'train'" in result.stderr
