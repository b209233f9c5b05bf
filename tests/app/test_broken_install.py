"""An install whose shipped presets or catalogues are missing or broken stops at start with one line
naming the file (exit 2), not a traceback: under `restart: unless-stopped` the operator sees why
at once.

The child process points `loyalty.policy.PRESETS_DIR` (or `ui.locales.LOCALES_DIR`) at a
directory of the test's making before `regulars` starts, the way a wheel built without its package
data would look. scripts/wheel_smoke.py checks the real wheel has the files.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

_CHILD = """
import importlib
import sys
from pathlib import Path

module, name = sys.argv[1].split(":")
setattr(importlib.import_module(module), name, Path(sys.argv[2]))
from bot.cli import main

raise SystemExit(main(sys.argv[3:]))
"""


def _regulars_with(
    where: str, directory: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`regulars ARGS` with the module constant `where` ("module:NAME") set to `directory`."""
    return subprocess.run(
        [sys.executable, "-c", _CHILD, where, str(directory), *args],
        env=env | {"PYTHONPATH": str(ROOT)},
        cwd=directory.parent,  # no .env of the checkout
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "does not exist"), ("name = [unclosed", "is not valid TOML")],
    ids=["missing", "not-toml"],
)
@pytest.mark.parametrize("command", [["run"], ["policy", "show"]], ids=" ".join)
def test_a_missing_or_broken_default_preset_is_exit_2_naming_the_file(
    content: str | None, says: str, command: list[str], tmp_path: Path, app_env: dict[str, str]
) -> None:
    presets = tmp_path / "presets"
    presets.mkdir()
    if content is not None:
        (presets / "frequency.toml").write_text(content, encoding="utf-8")
    result = _regulars_with("loyalty.policy:PRESETS_DIR", presets, app_env, *command)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
    assert "POLICY_FILE" in result.stderr
    assert f"{presets / 'frequency.toml'}: {says}" in result.stderr
    assert result.stdout == ""


def test_a_policy_file_on_a_missing_preset_is_exit_2_naming_the_preset(
    tmp_path: Path, app_env: dict[str, str]
) -> None:
    presets = tmp_path / "presets"
    presets.mkdir()
    own = tmp_path / "own.toml"
    own.write_text('preset = "value"\n', encoding="utf-8")
    result = _regulars_with(
        "loyalty.policy:PRESETS_DIR", presets, app_env, "policy", "check", str(own)
    )
    assert result.returncode == 2
    assert f"{presets / 'value.toml'}: does not exist" in result.stderr


@pytest.mark.parametrize("command", ["run", "demo"])
def test_missing_catalogues_are_exit_2_naming_them(
    command: str, tmp_path: Path, app_env: dict[str, str]
) -> None:
    catalogues = tmp_path / "catalogues"
    (catalogues / "zh_Hans" / "LC_MESSAGES").mkdir(parents=True)
    (catalogues / "zh_Hans" / "LC_MESSAGES" / "messages.po").write_text("", encoding="utf-8")
    result = _regulars_with("ui.locales:LOCALES_DIR", catalogues, app_env, command)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    missing = catalogues / "zh_Hant" / "LC_MESSAGES" / "messages.po"
    assert f"missing catalogues (a broken install?): {missing}" in result.stderr
