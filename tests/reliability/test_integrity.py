"""Inputs and outputs you can trust (docs/reliability.md, "Integrity"): an input is never destroyed,
a stale run never mixes into a new one, hostile input is bounded in time and memory, and every bad
value is a one-line error with exit code 2."""

from __future__ import annotations

import json
import os
import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_jsonl
from lengthwise.cli import main
from lengthwise.constraints import parse_length

pytestmark = pytest.mark.reliability

ROWS = [{"id": "a", "prompt": "Write about 5 words.", "response": "one two three four five"},
        {"id": "b", "prompt": "Write about 5 words.", "response": "one two three"}]


def _one_line(capsys, *expected: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(err.splitlines()) == 1, err
    for text in expected:
        assert text in err, err
    return err


def _no_final_newline(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS))  # the last row has no newline
    return path


# --- 1. an output equal to an input -------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["score", "{in}", "-o", "{in}", "--no-paraphrase"],
    ["audit", "{in}", "-o", "{in}", "--no-paraphrase"],
    ["export-sft", "{in}", "-o", "{in}"],
    ["export-dpo", "{in}", "--scores", "{in}", "-o", "{in}"],
    ["generate", "{in}", "-o", "{in}", "--model", "/nonexistent/model"],
    ["write", "{in}", "-o", "{in}", "--model", "/nonexistent/model"],
])
def test_an_output_that_is_the_input_is_refused_and_the_input_is_untouched(argv, tmp_path, capsys):
    path = _no_final_newline(tmp_path)
    before = path.read_bytes()
    assert main([a.replace("{in}", str(path)) for a in argv]) == 2
    _one_line(capsys, "is also this command's input")
    assert path.read_bytes() == before


def test_a_link_to_the_input_is_the_input(tmp_path, capsys):
    path = _no_final_newline(tmp_path)
    link = tmp_path / "link.jsonl"
    link.symlink_to(path)
    before = path.read_bytes()
    assert main(["score", str(path), "-o", str(link), "--no-paraphrase"]) == 2
    _one_line(capsys, "is also this command's input")
    assert path.read_bytes() == before


@pytest.mark.parametrize("target", ["/dev/null", "dir"])
def test_an_output_that_is_a_device_or_a_directory_is_refused(target, tmp_path, capsys):
    path = write_jsonl(tmp_path / "s.jsonl", ROWS)
    out = str(tmp_path) if target == "dir" else target
    assert main(["score", str(path), "-o", out, "--no-paraphrase"]) == 2
    _one_line(capsys, "directory" if target == "dir" else "not a regular file")
    assert main(["audit", str(path), "-o", out, "--no-paraphrase"]) == 2
    _one_line(capsys)
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")  # still the device


def test_special_input_files_are_refused_not_read_forever(tmp_path, capsys):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    started = time.monotonic()
    for path in (fifo, "/dev/zero"):
        assert main(["eval", str(path), "-o", str(tmp_path / "out")]) == 2
        _one_line(capsys, "not a regular file")
    assert time.monotonic() - started < 10


# --- 2. a resume never mixes runs ---------------------------------------------------------------------

def test_eval_of_another_file_into_the_same_folder_is_an_error_naming_it(tmp_path, capsys):
    a = write_jsonl(tmp_path / "runA.jsonl", ROWS)
    b = write_jsonl(tmp_path / "runB.jsonl", [{**r, "response": "other words here"} for r in ROWS])
    out = tmp_path / "out"
    assert main(["eval", str(a), "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["eval", str(b), "-o", str(out), "-q"]) == 2
    _one_line(capsys, "came from another run", "runA.jsonl", "--restart")
    assert main(["eval", str(b), "-o", str(out), "-q", "--restart"]) == 0
    items = [json.loads(x) for x in (out / "items.jsonl").read_text().splitlines()]
    assert [i["words"] for i in items] == [3, 3]  # runB's, nothing of runA left


def test_a_rerun_with_another_counter_or_stack_is_an_error(tmp_path, capsys):
    path = write_jsonl(tmp_path / "r.jsonl", ROWS)
    assert main(["eval", str(path), "-o", str(tmp_path / "e"), "-q"]) == 0
    assert main(["eval", str(path), "-o", str(tmp_path / "e"), "-q", "--counter", "unicode"]) == 2
    _one_line(capsys, 'counter: "longbench" -> "unicode"')
    assert main(["score", str(path), "-o", str(tmp_path / "s.jsonl"), "--no-paraphrase", "-q"]) == 0
    capsys.readouterr()
    stack = tmp_path / "stack.yaml"
    stack.write_text("components:\n  - {name: len, type: length_score}\n")
    assert main(["score", str(path), "-o", str(tmp_path / "s.jsonl"), "--stack", str(stack), "-q"]) == 2
    _one_line(capsys, "stack_version")


def test_rows_appended_to_the_input_still_resume(tmp_path, capsys):
    path = write_jsonl(tmp_path / "r.jsonl", ROWS[:1])
    assert main(["eval", str(path), "-o", str(tmp_path / "e"), "-q"]) == 0
    with open(path, "a") as fh:
        fh.write(json.dumps(ROWS[1]) + "\n")
    assert main(["eval", str(path), "-o", str(tmp_path / "e"), "-q"]) == 0
    assert len((tmp_path / "e" / "items.jsonl").read_text().splitlines()) == 2


# --- 3. bounded work ------------------------------------------------------------------------------------

@pytest.mark.parametrize("unit", ["one-", "one ", "1", "1,", "二", "one, words, ", "五,字,", "word ", " " * 7 + "5"])
def test_parse_length_is_linear_on_100kb_of_adversarial_text(unit):
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    started = time.perf_counter()
    parse_length(text)
    assert time.perf_counter() - started < 1.0


def test_a_request_after_100kb_of_noise_is_still_found():
    assert parse_length("x" * 100_000 + " Write about 500 words.").target == 500


def test_eval_of_a_hostile_prompt_is_fast(tmp_path):
    path = write_jsonl(tmp_path / "r.jsonl", [{"id": "a", "prompt": "one-" * 1000, "response": "x"}])
    started = time.monotonic()
    assert main(["eval", str(path), "-o", str(tmp_path / "e"), "-q"]) == 0
    assert time.monotonic() - started < 15


BOMB = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)])


def test_a_yaml_alias_bomb_is_refused_quickly_in_little_memory(tmp_path, capsys):
    stack = tmp_path / "bomb.yaml"
    stack.write_text(BOMB)
    assert len(stack.read_bytes()) < 600
    path = write_jsonl(tmp_path / "r.jsonl", ROWS)
    # a first run imports the CLI's modules: under tracemalloc that import alone took 3 s on 2 cores, which is not
    # what is measured here (the refusal must not expand the aliases)
    main(["score", str(path), "-o", str(tmp_path / "s.jsonl"), "--stack", str(stack)])
    main(["train", str(stack)])
    capsys.readouterr()
    tracemalloc.start()
    started = time.monotonic()
    try:
        assert main(["score", str(path), "-o", str(tmp_path / "s.jsonl"), "--stack", str(stack)]) == 2
        assert main(["train", str(stack)]) == 2
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1.0 and peak < 200e6
    assert "aliases" in capsys.readouterr().err


# --- 4/5. one validation path for values; exit codes as documented -----------------------------------

STACKS = {
    "reserved_name": ("components:\n  - {name: id, type: length_score}\n", "is an output field"),
    "components_not_a_list": ("components: 5\n", "must be a list"),
    "params_not_a_mapping": ("components:\n  - {name: l, type: length_score, params: [1, 2]}\n", "must be a mapping"),
    "string_threshold": ("detectors: {thresholds: {exact_repetition: high}}\ncomponents:\n  - {type: length_score}\n",
                         "must be a number"),
    "string_bool": ("detectors: {paraphrase: 'false'}\ncomponents:\n  - {type: length_score}\n", "true or false"),
    "unknown_param": ("components:\n  - {name: l, type: lwz_range, params: {tolerence: 0.1}}\n", "valid:"),
    "yaml_syntax": ("components: [\n", "not valid YAML"),
    "not_utf8": (b"components: \xff\n", "not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(STACKS))
def test_bad_reward_stacks_are_one_line_errors(case, tmp_path, capsys):
    text, expected = STACKS[case]
    stack = tmp_path / "stack.yaml"
    stack.write_bytes(text if isinstance(text, bytes) else text.encode())
    path = write_jsonl(tmp_path / "r.jsonl", ROWS)
    assert main(["score", str(path), "-o", str(tmp_path / "s.jsonl"), "--stack", str(stack)]) == 2
    _one_line(capsys, expected)


@pytest.mark.parametrize("overrides, expected", [
    (["rewards=5"], "rewards must be the path"),
    (["data.lengths=[]"], "data.lengths must be a non-empty list"),
    (["data.lengths=[100, -5]"], "data.lengths[1]"),
    (["learning_rate=.nan"], "learning_rate must be finite"),
    (["temperature=-1"], "temperature must be >"),
    (["top_p=2"], "top_p must be <="),
])
def test_bad_config_values_are_errors_before_anything_runs(overrides, expected, tmp_path, capsys):
    args = ["train"] + [x for o in overrides for x in ("--set", o)] + ["--set", f"output_dir={tmp_path / 'run'}"]
    assert main(args) == 2
    _one_line(capsys, expected)
    args[0] = "export-verl"
    assert main([*args, "-o", str(tmp_path / "verl")]) == 2
    _one_line(capsys, expected)
    assert not (tmp_path / "verl" / "train.parquet").exists()


def test_a_config_that_is_a_list_or_not_utf8(tmp_path, capsys):
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    assert main(["train", str(listed)]) == 2
    _one_line(capsys, "mapping")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"preset: \xff\xfe\n")
    assert main(["train", str(binary)]) == 2
    _one_line(capsys, "not valid UTF-8")


def test_export_verl_of_the_trl_preset_says_what_to_set(capsys, tmp_path):
    assert main(["export-verl", "examples/cpu-demo.yaml", "--set", "preset=trl", "-o", str(tmp_path / "v")]) == 2
    _one_line(capsys, "no verl equivalent", "luspo")


def test_non_finite_numbers_never_reach_an_export(tmp_path, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "prompt": "p", "response": "some text here", "S_l": NaN}\n')
    assert main(["export-sft", str(docs), "-o", str(tmp_path / "sft.jsonl"), "--min-sl", "80"]) == 2
    _one_line(capsys, f"{docs}:1:", "S_l")
    responses = write_jsonl(tmp_path / "r.jsonl", [{"id": "a", "prompt": "p", "response": "same"},
                                                   {"id": "b", "prompt": "p", "response": "same"}])
    scores = tmp_path / "s.jsonl"
    scores.write_text('{"id": "a", "score": NaN}\n{"id": "b", "score": 0.1}\n')
    assert main(["export-dpo", str(responses), "--scores", str(scores), "-o", str(tmp_path / "d.jsonl")]) == 2
    _one_line(capsys, f"{scores}:1:", "score")
    scores.write_text('{"id": "a", "score": 0.9}\n{"id": "b", "score": 0.1}\n')
    assert main(["export-dpo", str(responses), "--scores", str(scores), "-o", str(tmp_path / "d.jsonl")]) == 0
    assert (tmp_path / "d.jsonl").read_text() == ""  # equal texts are no preference pair


def test_skip_bad_reports_its_count_in_the_exports(tmp_path, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "a", "prompt": "p", "response": "fine text"}\n{"id": "b", "prompt": 5}\n')
    assert main(["export-sft", str(docs), "-o", str(tmp_path / "sft.jsonl"), "--skip-bad"]) == 0
    assert "skipped 1 bad rows" in capsys.readouterr().err


def test_report_and_plot_on_broken_run_folders(tmp_path, capsys):
    incomplete = tmp_path / "run"
    incomplete.mkdir()
    (incomplete / "summary.json").write_text("{}")
    assert main(["report", str(incomplete)]) == 2
    _one_line(capsys, str(incomplete))
    (incomplete / "metrics.jsonl").write_text('{"step": 1, "loss": 0.1}\n{"step": 2, "lo\n{"step": 3}\n')
    assert main(["plot", str(incomplete)]) == 2
    _one_line(capsys, "metrics.jsonl:2:")


def test_misspelled_options_are_usage_errors_not_internal_errors(tmp_path, capsys):
    path = write_jsonl(tmp_path / "r.jsonl", ROWS)
    assert main(["eval", str(path), "-o", str(tmp_path / "e"), "--judge-atempts", "2"]) == 2
    err = capsys.readouterr().err
    assert "No such option" in err and "internal error" not in err


def test_an_unknown_embedder_fails_at_once(tmp_path, capsys):
    path = write_jsonl(tmp_path / "r.jsonl", ROWS)
    stack = tmp_path / "stack.yaml"
    stack.write_text("embedder: nobody/no-such-embedder\ncomponents:\n  - {type: quality}\n")
    started = time.monotonic()
    assert main(["score", str(path), "-o", str(tmp_path / "s.jsonl"), "--stack", str(stack), "-q"]) == 2
    assert time.monotonic() - started < 15
    _one_line(capsys, "nobody/no-such-embedder")


def test_skip_bad_skips_and_counts_hostile_rows(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"id": "ok", "prompt": "Write about 5 words.", "response": "one two three four five"}\n'
                     b'{"id": "\\ud800", "prompt": "p", "response": "r"}\n'
                     b'{"id": "b", "prompt": "p", "response": "r", "length": Infinity}\n'
                     b'{"id": "c", "prompt": "p", "response": "r", "z": ' + b"[" * 3000 + b"]" * 3000 + b"}\n"
                     b'{"id": "d", "prompt": "p", "response": "r", "n": ' + b"9" * 5000 + b"}\n")
    assert main(["eval", str(path), "-o", str(tmp_path / "e"), "--skip-bad", "-q"]) == 0
    assert "skipped 4 bad rows" in capsys.readouterr().err
    assert json.loads((tmp_path / "e" / "summary.json").read_text())["n"] == 1


def test_export_dpo_reports_skipped_rows(tmp_path, capsys):
    responses = write_jsonl(tmp_path / "r.jsonl", [{"id": "a", "prompt": "p", "response": "x"},
                                                   {"id": "b", "prompt": "p", "response": "y"}])
    scores = tmp_path / "s.jsonl"
    scores.write_text('{"id": "a", "score": 1.0}\n{"id": "b", "score": 0.0}\n{"id": "c", "score": Infinity}\n')
    assert main(["export-dpo", str(responses), "--scores", str(scores), "-o", str(tmp_path / "d.jsonl"),
                 "--skip-bad"]) == 0
    assert "skipped 1 bad rows" in capsys.readouterr().err
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 1


def test_quiet_means_quiet_and_a_closed_pipe_is_not_an_error(tiny_model_dir, tmp_path):
    import subprocess
    import sys

    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "Write about 5 words."}])
    done = subprocess.run([sys.executable, "-m", "lengthwise.cli", "generate", str(prompts), "-o",
                           str(tmp_path / "o.jsonl"), "--model", str(tiny_model_dir), "--max-new-tokens", "4", "-q"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Loading weights" not in done.stderr and "%|" not in done.stderr
    responses = write_jsonl(tmp_path / "r.jsonl", ROWS)
    piped = subprocess.run(f"{sys.executable} -m lengthwise.cli eval {responses} -o {tmp_path / 'e'} -q | head -c 1",
                           shell=True, capture_output=True, text=True, timeout=300, executable="/bin/bash")
    assert "Traceback" not in piped.stderr and "internal error" not in piped.stderr and "Error" not in piped.stderr
    status = subprocess.run(f"set -o pipefail; {sys.executable} -m lengthwise.cli eval {responses} -o "
                            f"{tmp_path / 'e'} -q | head -c 1 > /dev/null", shell=True, executable="/bin/bash",
                            capture_output=True, text=True, timeout=300)
    assert status.returncode == 0, status.stderr


@settings(max_examples=40, deadline=None)
@given(pieces=st.lists(st.sampled_from(["one", "-", " ", "1", ",", "二", "字", "words", "at most", "and", "hundred",
                                         "between", "to", "about", "每", "篇", "page", "x", "\n"]),
                       min_size=1, max_size=40),
       kb=st.integers(min_value=8, max_value=64))
def test_parse_length_time_is_bounded_per_kilobyte(pieces, kb):
    """Any mix of the parser's own vocabulary, repeated to ``kb`` KB: at most 10 ms per KB."""
    unit = "".join(pieces)
    text = (unit * (kb * 1024 // max(1, len(unit)) + 1))[:kb * 1024]
    started = time.perf_counter()
    parse_length(text)
    assert time.perf_counter() - started < 0.010 * kb + 0.05
