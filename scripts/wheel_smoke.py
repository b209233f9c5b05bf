"""Wheel smoke: does Regulars work installed from its wheel, away from the checkout?

    python3 scripts/wheel_smoke.py [--keep]

Builds the wheel and installs it into a fresh venv under a temporary directory with
scripts/install-wheel.sh (the Dockerfile's install step), then, from that directory, with no
PYTHONPATH and no .env:

1. every file the repository tracks under a shipped package is in the installed package (the
   presets, the catalogues, the web chat, the migrations: whatever pyproject.toml left out);
2. `regulars policy check` accepts each shipped preset, read from the installed package;
3. `regulars run` starts the sandbox (no BOT_TOKEN, a temporary DATA_DIR, a free port), and
   `/start` sent through the emulator's control API by an English, a Simplified- and a
   Traditional-Chinese diner is answered in each language; the web chat page is served; SIGTERM
   stops it with exit code 0.

Exit code 0, or 1 with what failed (and the app's log). Standard library only: CI runs it with
any Python 3.11+. `--keep` leaves the temporary directory for a look afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "scripts" / "install-wheel.sh"
# The sandbox's ready cast (bot/sandbox_run.py): diners with an English, a Simplified- and a
# Traditional-Chinese phone.
DINERS = {"en": 1_000_101, "zh_Hans": 1_000_102, "zh_Hant": 1_000_103}
READY_LINE = "Regulars sandbox: open"
START_SECONDS = 180  # generous: two shared cores; the app is usually up in a few seconds
CJK = re.compile(r"[\u4e00-\u9fff]")


class SmokeError(Exception):
    """One line saying what is wrong with the installed package."""


NOT_SHIPPED = frozenset({"tests", "bench"})  # packages of the repository, not of the product


def shipped_packages() -> list[str]:
    """The top-level packages of the product; each must be in pyproject.toml's list."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    listed = {pattern.rstrip("*").rstrip(".") for pattern in include}
    found = {
        path.parent.name
        for path in REPO.glob("*/__init__.py")
        if path.parent.name not in NOT_SHIPPED
    }
    if found - listed:
        raise SmokeError(
            f"packages left out of pyproject.toml [tool.setuptools.packages.find] include: "
            f"{', '.join(sorted(found - listed))}"
        )
    return sorted(found)


def tracked_files(package: str) -> list[str]:
    """Files of `package` in the repository, relative to the repository root."""
    if (REPO / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "--", package],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        return [name for name in listed if (REPO / name).is_file()]
    return [
        str(path.relative_to(REPO))
        for path in (REPO / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".mo"}
    ]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a person's shell: no settings of ours, no PYTHONPATH, no venv."""
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    env.update(extra)
    return env


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def check_files(python: Path, cwd: Path, packages: list[str]) -> Path:
    """Every tracked file of `packages` is installed; the site-packages directory."""
    where = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd,
        clean_env(),
    )
    site = Path(where.stdout.strip())
    missing: list[str] = []
    count = 0
    for package in packages:
        for name in tracked_files(package):
            count += 1
            if not (site / name).is_file():
                missing.append(name)
    if missing:
        raise SmokeError(
            f"{len(missing)} file(s) of the repository are not in the wheel (declare them in "
            f"pyproject.toml [tool.setuptools.package-data]): {', '.join(sorted(missing))}"
        )
    print(f"ok: all {count} files of {', '.join(packages)} are installed")
    return site


def check_presets(venv: Path, site: Path, cwd: Path) -> None:
    presets = sorted((site / "loyalty" / "presets").glob("*.toml"))
    if not presets:
        raise SmokeError(f"no presets installed in {site / 'loyalty' / 'presets'}")
    for preset in presets:
        result = run(
            [str(venv / "bin" / "regulars"), "policy", "check", str(preset)], cwd, clean_env()
        )
        if result.returncode != 0 or ": ok (policy" not in result.stdout:
            raise SmokeError(
                f"regulars policy check {preset} exited {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()}"
            )
        print(f"ok: {result.stdout.strip()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, payload: dict[str, Any] | None = None) -> tuple[int, bytes]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def wait_ready(process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if READY_LINE in log.read_text(encoding="utf-8", errors="replace"):
            return
        if process.poll() is not None:
            raise SmokeError(f"regulars run exited {process.returncode} before it was ready")
        time.sleep(0.2)
    raise SmokeError(f"regulars run did not say {READY_LINE!r} within {START_SECONDS} s")


def start_replies(base: str) -> dict[str, str]:
    """Each cast diner sends /start; the bot's answer to each, by locale."""
    replies: dict[str, str] = {}
    for locale, user_id in DINERS.items():
        status, body = http(
            "POST",
            f"{base}/sandbox/users/{user_id}/send",
            {"text": "/start", "wait_reply": 30},
        )
        if status != 200:
            raise SmokeError(f"POST /sandbox/users/{user_id}/send answered {status}: {body!r}")
        reply = json.loads(body).get("reply")
        text = (reply or {}).get("text") or ""
        if not text.strip():
            raise SmokeError(f"/start from the {locale} diner got no answer: {reply!r}")
        replies[locale] = text
    return replies


def check_replies(replies: dict[str, str]) -> None:
    for locale in ("zh_Hans", "zh_Hant"):
        if not CJK.search(replies[locale]) or replies[locale] == replies["en"]:
            raise SmokeError(
                f"/start answered the {locale} diner untranslated: {replies[locale]!r}"
            )
    if replies["zh_Hans"] == replies["zh_Hant"]:
        raise SmokeError("/start answered Simplified and Traditional Chinese diners alike")
    for locale, text in replies.items():
        print(f"ok: /start answered ({locale}): {text.splitlines()[0]!r}")


def check_sandbox(venv: Path, cwd: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(DATA_DIR=str(cwd / "data"), SANDBOX_HOST="127.0.0.1", SANDBOX_PORT=str(port))
    log = cwd / "regulars-run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(venv / "bin" / "regulars"), "run"], cwd=cwd, env=env, stdout=out, stderr=out
        )
    try:
        wait_ready(process, log)
        check_replies(start_replies(base))
        for path, must_contain in (("/", b"<html"), ("/static/app.js", b"/sandbox/")):
            status, body = http("GET", base + path)
            if status != 200 or must_contain not in body:
                raise SmokeError(f"GET {path} answered {status} without {must_contain!r}")
        print("ok: the web chat page and its script are served")
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        if code != 0:
            raise SmokeError(f"regulars run exited {code} on SIGTERM")
        print("ok: regulars run stopped on SIGTERM with exit code 0")
    except SmokeError:
        print(f"--- {log} ---\n{log.read_text(encoding='utf-8', errors='replace')[-6000:]}")
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def smoke(work: Path) -> None:
    packages = shipped_packages()  # before the install: a package left out fails at once
    venv = work / "venv"
    started = time.monotonic()
    install = subprocess.run(
        [str(INSTALL), str(REPO), str(venv), "--no-compile"], cwd=work, check=False
    )
    if install.returncode != 0:
        raise SmokeError(f"{INSTALL.name} exited {install.returncode}")
    print(f"ok: built and installed in {time.monotonic() - started:.0f} s")
    site = check_files(venv / "bin" / "python", work, packages)
    check_presets(venv, site, work)
    check_sandbox(venv, work)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="regulars-wheel-smoke-"))
    try:
        smoke(work)
    except SmokeError as exc:
        print(f"wheel smoke FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"wheel smoke passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
