"""The fuzzing harness, policy side (issue 19): random policy files made from the schema's own
keys (the shipped presets, with values replaced, keys dropped or added, tables turned into
scalars and back). Every file either loads or is refused with PolicyError: one line naming the
file; never another exception at start-up."""

from __future__ import annotations

import json
import math
import os
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from loyalty.policy import PRESETS as PRESET_NAMES
from loyalty.policy import PRESETS_DIR, PolicyError, load_policy

PRESETS = {name: tomllib.loads((PRESETS_DIR / f"{name}.toml").read_text()) for name in PRESET_NAMES}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_text(document: dict[str, Any], table: tuple[str, ...] = ()) -> str:
    lines = [
        f"{json.dumps(k)} = {toml_value(v)}" for k, v in document.items() if not isinstance(v, dict)
    ]
    out = []
    if table:
        out.append("[" + ".".join(json.dumps(part) for part in table) + "]")
    out += lines
    for key, value in document.items():
        if isinstance(value, dict):
            out.append(toml_text(value, (*table, key)))
    return "\n".join(out)


scalars = (
    st.integers(-(10**12), 10**12)
    | st.floats()
    | st.booleans()
    | st.text(max_size=12)
    | st.sampled_from(["", "frequency", "value", "0", "-1", "amount", "percent", "12:00", "mon"])
    | st.dates()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(document: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    return found


@st.composite
def policy_documents(draw: st.DrawFn) -> dict[str, Any]:
    preset = draw(st.sampled_from(sorted(PRESETS)))
    base = tomllib.loads(toml_text(PRESETS[preset]))  # a deep copy
    if draw(st.booleans()):
        base = {"preset": preset}  # a deployment's file: the preset and a few overrides
    paths = _paths(PRESETS[preset])
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        where = base
        for part in path[:-1]:
            if not isinstance(where.get(part), dict):
                where[part] = {}
            where = where[part]
        action = draw(st.sampled_from(["replace", "replace", "drop", "unknown"]))
        if action == "replace":
            where[path[-1]] = draw(values)
        elif action == "drop":
            where.pop(path[-1], None)
        else:
            where[draw(st.text(min_size=1, max_size=8))] = draw(values)
    return base


@settings(max_examples=int(os.environ.get("REGULARS_FUZZ_EXAMPLES", "150")), deadline=None)
@given(document=policy_documents())
def test_any_policy_file_loads_or_names_its_problem(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, Any]
) -> None:
    path: Path = tmp_path_factory.mktemp("policy") / "fuzzed.toml"
    path.write_text(toml_text(document), encoding="utf-8")
    try:
        load_policy(path)
    except PolicyError as exc:
        message = str(exc)
        event("refused")
        assert "\n" not in message, message
        assert str(path) in message or "preset" in message, message
        return
    event("loaded")
