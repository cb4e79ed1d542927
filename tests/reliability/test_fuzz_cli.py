"""Fuzzing the CLI with Hypothesis: random JSONL rows (as bytes, so broken JSON and odd Unicode are in
play) and random reward-stack YAML. Whatever the input, a command ends with exit code 0, 1 or 2, an
error is one line of the documented shape, and nothing is ever an "internal error"."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lengthwise.cli import main

pytestmark = pytest.mark.reliability

SCALAR = (st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
          | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30))
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                          max_size=3), max_leaves=8)
ROW = st.fixed_dictionaries({}, optional={"id": VALUE, "prompt": VALUE | st.just("Write about 5 words."),
                                          "response": VALUE | st.just("one two three"), "length": VALUE,
                                          "type": VALUE, "model": VALUE, "S_l": VALUE, "score": VALUE})
# hostile fragments that plain generation rarely reaches
RAW_LINE = st.sampled_from([b'{"id": "\\ud800", "response": "r"}', b"[" * 3000, b'{"length": 1e999}', b"\xff\xfe",
                            b'{"response": "' + b"one-" * 500 + b'"}', b'{"id": 1' + b"0" * 5000 + b"}", b"null",
                            b'{"prompt": "p", "response": "r", "length": NaN}'])


def _line(row) -> bytes:
    return json.dumps(row, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


def _check(code: int, err: str) -> None:
    assert code in (0, 1, 2), (code, err)
    assert "internal error" not in err and "Traceback" not in err, err
    if code == 2:
        lines = [x for x in err.strip().splitlines() if x.strip()]
        assert lines and (lines[-1].startswith("error: ") or lines[-1].startswith("Error: ")), err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(rows=st.lists(st.one_of(ROW.map(_line), RAW_LINE), min_size=1, max_size=4),
       command=st.sampled_from(["eval", "audit", "export-sft"]), skip_bad=st.booleans())
def test_any_jsonl_ends_in_a_documented_exit(rows, command, skip_bad, tmp_path_factory, capsys):
    work = tmp_path_factory.mktemp("fuzz")
    path = work / "in.jsonl"
    path.write_bytes(b"\n".join(rows) + b"\n")
    argv = {"eval": ["eval", str(path), "-o", str(work / "out"), "-q"],
            "audit": ["audit", str(path), "--no-paraphrase", "-q"],
            "export-sft": ["export-sft", str(path), "-o", str(work / "sft.jsonl")]}[command]
    code = main(argv + (["--skip-bad"] if skip_bad else []))
    _check(code, capsys.readouterr().err)


YAML_VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.sampled_from(["name", "type", "weight", "params", "paraphrase",
                                                             "thresholds", "tolerance", "x"]), inner, max_size=3),
                          max_leaves=8)
STACK = st.fixed_dictionaries({}, optional={
    "components": st.lists(st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["length", "id", "score", "q"]) | st.text(max_size=5),
        "type": st.sampled_from(["length_score", "lwz_range", "format", "constraint_score", "nope"]),
        "weight": SCALAR, "params": YAML_VALUE}), max_size=3) | YAML_VALUE,
    "counter": st.sampled_from(["longbench", "unicode", "letters"]) | SCALAR,
    "detectors": YAML_VALUE, "extra": YAML_VALUE})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(stack=STACK | YAML_VALUE, as_text=st.booleans())
def test_any_reward_stack_yaml_ends_in_a_documented_exit(stack, as_text, tmp_path_factory, capsys):
    import yaml

    work = tmp_path_factory.mktemp("fuzz")
    path = work / "stack.yaml"
    try:
        text = yaml.safe_dump(stack, allow_unicode=True)
    except yaml.YAMLError:
        text = str(stack)
    path.write_text(text if as_text else text.replace(":", " :"), encoding="utf-8", errors="surrogatepass")
    empty = work / "empty.jsonl"
    empty.write_text("")
    # the stack is built first; an empty responses file then ends the run before any model loads
    code = main(["score", str(empty), "-o", str(work / "s.jsonl"), "--stack", str(path), "-q"])
    _check(code, capsys.readouterr().err)
    assert code == 2
