"""`regulars qr tables`: printable table codes whose QR really holds a link that checks in at
that table, and clear one-line errors for bad input."""

from __future__ import annotations

import asyncio
import io
import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import segno
from aiohttp import web
from PIL import Image

from loyalty.qr import QRSigner, TablePayload
from models import queries
from models.db import create_engine, create_session_factory
from sandbox.emulator import BotAPIEmulator
from tests.conftest import ROOT, TEST_SECRET, free_port, run_regulars
from ui.images import make_qr, qr_modules, qr_png

pytestmark = pytest.mark.slow

STORE_NAME = "Noodle Bar & Co"
LINE = re.compile(r"table (\d+) (https://t\.me/RegularsSandboxBot\?start=([A-Za-z0-9_-]{1,64}))")
SVG = "{http://www.w3.org/2000/svg}"


def run_qr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_regulars(env, "qr", "tables", *args, timeout=120)


def printed_links(stdout: str) -> dict[int, tuple[str, str]]:
    """table number → (deep link, payload), asserting every line has the documented shape."""
    links = {}
    for line in stdout.splitlines():
        match = LINE.fullmatch(line)
        assert match, f"unexpected output line: {line!r}"
        links[int(match.group(1))] = (match.group(2), match.group(3))
    return links


def segno_modules(link: str) -> list[list[bool]]:
    qr = segno.make(link, error="q", boost_error=False, micro=False)
    return [[bool(m) for m in row] for row in qr.matrix_iter(border=0)]


def read_qr_modules(image: Image.Image, count: int) -> tuple[list[list[bool]], int]:
    """Find the QR code on a card by its pixels alone and read its modules back.

    The QR code is the tallest block of rows with dark pixels (text lines are shorter; gaps
    inside the code are at most a module or two, the quiet zone around it is wider).
    """
    gray = image.convert("L")
    width, height = gray.size
    data = gray.tobytes()

    def dark(x: int, y: int) -> bool:
        return data[y * width + x] < 128

    dark_rows = [y for y in range(height) if any(dark(x, y) for x in range(0, width, 2))]
    bands: list[list[int]] = []
    for y in dark_rows:
        if bands and y - bands[-1][1] <= height // 50:
            bands[-1][1] = y
        else:
            bands.append([y, y])
    top, bottom = max(bands, key=lambda band: band[1] - band[0])
    columns = [x for x in range(width) if any(dark(x, y) for y in range(top, bottom + 1, 2))]
    left, right = columns[0], columns[-1]
    side = right - left + 1
    assert side == bottom - top + 1, "the QR code is not square"
    assert side % count == 0, f"{side} px is not a whole number of {count} modules"
    module = side // count
    half = module // 2
    modules = [
        [dark(left + col * module + half, top + row * module + half) for col in range(count)]
        for row in range(count)
    ]
    # the quiet zone: four modules of white all round
    quiet = 4 * module
    assert top - quiet >= 0
    assert left - quiet >= 0
    for y in range(top - quiet, bottom + quiet + 1):
        for x in (*range(left - quiet, left), *range(right + 1, right + quiet + 1)):
            assert not dark(x, y), "the quiet zone is not white"
    for x in range(left, right + 1):
        for y in (*range(top - quiet, top), *range(bottom + 1, bottom + quiet + 1)):
            assert not dark(x, y), "the quiet zone is not white"
    return modules, module


async def recorded_tables(database_url: str, numbers: list[int]) -> list[int]:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            found = []
            for number in numbers:
                if await queries.get_table(session, store_id=1, number=number) is not None:
                    found.append(number)
            return found
    finally:
        await engine.dispose()


def test_prints_links_and_writes_printable_codes_that_check_in_at_each_table(
    app_env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    env = app_env | {"STORE_NAME": STORE_NAME}
    out = tmp_path / "codes"
    result = run_qr(env, "--store", "1", "--tables", "1-3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    links = printed_links(result.stdout)
    assert list(links) == [1, 2, 3]

    # every printed link is a genuine, signed table code for (store 1, table n)
    secret = (tmp_path / "data" / "secret_key").read_text(encoding="utf-8").strip()
    signer = QRSigner.from_secret(secret.encode())
    for table, (_, payload) in links.items():
        assert signer.verify(payload, now=datetime.now(UTC)) == TablePayload(
            store_id=1, table=table
        )
    assert len({payload for _, payload in links.values()}) == 3
    assert asyncio.run(recorded_tables(database_url, [1, 2, 3, 4])) == [1, 2, 3]

    assert sorted(p.name for p in out.iterdir()) == [
        "table-1.png",
        "table-1.svg",
        "table-2.png",
        "table-2.svg",
        "table-3.png",
        "table-3.svg",
        "tables-sheet.pdf",
    ]
    for table, (link, _) in links.items():
        # the PNG: a card of printable size whose pixels hold exactly segno's QR of the link
        with Image.open(out / f"table-{table}.png") as image:
            image.load()
            dpi = image.info["dpi"]
            assert round(dpi[0]) == 300
            width_mm, height_mm = (image.size[i] / dpi[i] * 25.4 for i in (0, 1))
            assert 90 <= width_mm <= 110
            assert 130 <= height_mm <= 150
            expected = segno_modules(link)
            modules, module_px = read_qr_modules(image, len(expected))
            assert modules == expected
            assert module_px * len(expected) / 300 * 25.4 >= 50, "the QR code is under 5 cm"

        # the SVG: the real text, the link, and the same modules in its path
        svg_text = (out / f"table-{table}.svg").read_text(encoding="utf-8")
        root = ET.fromstring(svg_text)
        texts = [el.text for el in root.iter(f"{SVG}text")]
        assert STORE_NAME in texts
        assert f"Table {table}" in texts
        assert "Scan to check in" in " ".join(t or "" for t in texts)
        assert root.get("data-link") == link
        assert root.get("width") == "100mm"
        path = root.find(f"{SVG}path")
        assert path is not None
        assert path.get("data-link") == link
        assert svg_modules(path.get("d") or "", len(expected)) == expected

    sheet = (out / "tables-sheet.pdf").read_bytes()
    assert sheet.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b(?!s)", sheet)) == 1  # four cards per A4 page
    assert b"/MediaBox [ 0 0 595.2 841.92 ]" in sheet


def svg_modules(d: str, count: int) -> list[list[bool]]:
    """Rebuild the module grid from the SVG path (one rectangle per run of dark modules)."""
    runs = [tuple(map(int, m)) for m in re.findall(r"M(\d+) (\d+)h(\d+)v(\d+)h-\d+z", d)]
    assert runs
    module = runs[0][3]
    left = min(x for x, _, _, _ in runs)
    top = min(y for _, y, _, _ in runs)
    grid = [[False] * count for _ in range(count)]
    for x, y, w, _ in runs:
        row = (y - top) // module
        for col in range((x - left) // module, (x - left + w) // module):
            grid[row][col] = True
    return grid


def test_the_label_and_caption_can_be_chinese_and_the_codes_stay_the_same(
    app_env: dict[str, str], tmp_path: Path
) -> None:
    first = run_qr(app_env, "--store", "1", "--tables", "2,5-6", "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    again = run_qr(
        app_env,
        "--store",
        "1",
        "--tables",
        "2,5-6,5",
        "--out",
        str(tmp_path / "b"),
        "--label",
        "桌",
        "--caption",
        "扫码签到 · 在这里付款即成为会员",
    )
    assert again.returncode == 0, again.stderr
    # same secret, same tables: the same links (reprinting never invalidates a table)
    assert again.stdout == first.stdout
    assert list(printed_links(again.stdout)) == [2, 5, 6]
    svg = (tmp_path / "b" / "table-5.svg").read_text(encoding="utf-8")
    assert ">桌 5</text>" in svg
    assert "扫码签到" in svg
    assert "Noto Sans CJK SC" in svg
    with Image.open(tmp_path / "b" / "table-5.png") as image:
        assert image.size[0] >= 1000


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--tables", "5-3"], "3 comes before 5"),
        (["--tables", "1,,2"], "is not a list of tables"),
        (["--tables", "two"], "'two' is not a table number"),
        (["--tables", "0-4"], "table numbers start at 1"),
        (["--tables", "1-5000"], "more than 1000 tables"),
        (["--tables", ""], "is not a list of tables"),
        (["--store", "99"], "--store 99: there is no such store"),
        (["--store", "first"], "is not a store id"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    app_env: dict[str, str], tmp_path: Path, args: list[str], says: str
) -> None:
    defaults = {"--store": "1", "--tables": "1-3"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        defaults[flag] = value
    out = tmp_path / "codes"
    argv = [part for flag, value in defaults.items() for part in (flag, value)]
    result = run_qr(app_env, *argv, "--out", str(out))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert lines[0].startswith("regulars qr tables: ")
    assert not out.exists()


def test_the_bare_qr_png_holds_the_link() -> None:
    link = "https://t.me/RegularsSandboxBot?start=AQEBDPq8UyP_m2hk3s8wlWR9wY8"
    with Image.open(io.BytesIO(qr_png(link, scale=5))) as image:
        expected = segno_modules(link)
        assert image.size == ((len(expected) + 8) * 5,) * 2
        modules, module_px = read_qr_modules(image, len(expected))
    assert module_px == 5
    assert modules == expected


def test_the_bare_qr_png_has_the_pixels_segno_would_write() -> None:
    link = "https://t.me/RegularsSandboxBot?start=AQEBDPq8UyP_m2hk3s8wlWR9wY8"
    for scale in (1, 8):
        reference = io.BytesIO()
        segno.make(link, error="q", boost_error=False, micro=False).save(
            reference, kind="png", scale=scale, border=4
        )
        with (
            Image.open(io.BytesIO(qr_png(link, scale=scale))) as ours,
            Image.open(reference) as theirs,
        ):
            assert (ours.mode, ours.size) == (theirs.mode, theirs.size) == ("1", ours.size)
            assert ours.tobytes() == theirs.tobytes()


def test_the_qr_code_is_the_one_segno_makes_whatever_mask_it_chooses() -> None:
    """``make_qr`` scores the eight data masks itself (segno's pure-Python scoring cost ~7 ms
    a member card): every symbol must still be segno's, module for module, for every mask and
    for small and large versions."""
    rng = random.Random(20261123)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    masks: set[int] = set()
    versions: set[int] = set()
    for index in range(240):
        length = rng.choice((1, 8, 27, 40, 64, 90, 150, 300, 700, 1200))
        payload = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, length)))
        link = f"https://t.me/RegularsSandboxBot?start={payload}" if index % 3 else payload
        reference = segno.make(link, error="q", boost_error=False, micro=False)
        masks.add(int(reference.mask))
        versions.add(int(reference.version))
        assert make_qr(link) == tuple(bytes(row) for row in reference.matrix), link
        if index % 10 == 0:
            assert qr_modules(link) == [
                [bool(m) for m in row] for row in reference.matrix_iter(border=4)
            ]
    assert masks == set(range(8))
    assert min(versions) <= 2
    assert max(versions) >= 30


@asynccontextmanager
async def emulator(username: str) -> AsyncIterator[tuple[BotAPIEmulator, str]]:
    bot_api = BotAPIEmulator(username=username)
    app = web.Application()
    bot_api.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield bot_api, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await bot_api.close()
        await runner.cleanup()


async def run_qr_async(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "qr",
        "tables",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_with_a_bot_token_the_links_name_the_real_bot(
    app_env: dict[str, str], tmp_path: Path
) -> None:
    async with emulator("NoodleBarBot") as (bot_api, url):
        env = app_env | {
            "BOT_TOKEN": bot_api.token,
            "TELEGRAM_API_URL": url,
            "SECRET_KEY": TEST_SECRET,
        }
        code, stdout, stderr = await run_qr_async(
            env, "--store", "1", "--tables", "4", "--out", str(tmp_path / "codes")
        )
    assert code == 0, stderr
    table, link = stdout.split()[1:]
    assert table == "4"
    assert link.startswith("https://t.me/NoodleBarBot?start=")
    payload = link.partition("?start=")[2]
    signer = QRSigner.from_secret(TEST_SECRET.encode())
    assert signer.verify(payload, now=datetime.now(UTC)) == TablePayload(store_id=1, table=4)
    assert not (tmp_path / "data" / "secret_key").exists()  # SECRET_KEY is the one that signs


async def test_telegram_out_of_reach_exits_2_with_one_line(
    app_env: dict[str, str], tmp_path: Path
) -> None:
    env = app_env | {
        "BOT_TOKEN": "123456:not-a-real-token",
        "TELEGRAM_API_URL": f"http://127.0.0.1:{free_port()}",
        "SECRET_KEY": TEST_SECRET,
    }
    code, stdout, stderr = await run_qr_async(
        env, "--store", "1", "--tables", "1", "--out", str(tmp_path / "codes")
    )
    assert code == 2
    assert stdout == ""
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "could not ask Telegram for the bot's username" in stderr
    assert not (tmp_path / "codes").exists()
