"""The bad-input matrix: every command that reads a file, against every kind of bad file. Each case
has one documented outcome (docs/reliability.md): a one-line error naming ``file`` or
``file:line`` with exit code 2, or a defined score with exit code 0."""

from __future__ import annotations

import json

import pytest

from conftest import write_jsonl
from lengthwise.cli import main
from lengthwise.synthetic import honest_text

pytestmark = pytest.mark.reliability

# bytes of a file, the expected error text (after "error: <path>"), the line it names (None: the file)
ERROR_CASES = {
    "empty_file": (b"", ": no rows to read", None),
    "only_blank_lines": (b"\n\n  \n", ": no rows to read", None),
    "broken_json_line": (b'{"id": "a", "prompt": "p", "response": "r", "question": "p"}\n{"id": "b", "prompt": \n',
                         "not valid JSON", 2),
    "not_an_object": (b'["a", "list"]\n', "expected a JSON object", 1),
    "non_utf8": (b'{"id": "a", "prompt": "p\xff\xfe", "response": "r"}\n', "not valid UTF-8", 1),
    "duplicate_ids": (b'{"id": "a", "prompt": "p", "response": "r"}\n{"id": "a", "prompt": "q", "response": "s"}\n',
                      "duplicate id 'a'", 2),
    "wrong_field_type": (b'{"id": "a", "prompt": 7, "response": 3}\n', "must be a string", 1),
    # hostile rows that once ended in "internal error" (docs/reliability.md, integrity table)
    "huge_integer": (b'{"id": "a", "prompt": "p", "response": "r", "n": ' + b"7" * 5000 + b"}\n",
                     "not readable JSON", 1),
    "deep_nesting": (b'{"id": "a", "prompt": "p", "response": "r", "z": ' + b"[" * 5000 + b"]" * 5000 + b"}\n",
                     "nested", 1),
    "lone_surrogate_id": (b'{"id": "\\ud800", "prompt": "p", "response": "r"}\n', "lone surrogate", 1),
    "lone_surrogate_prompt": (b'{"id": "a", "prompt": "p\\udfff", "response": "r"}\n', "lone surrogate", 1),
    "lone_surrogate_response": (b'{"id": "a", "prompt": "p", "response": "\\ud800r"}\n', "lone surrogate", 1),
    # one rule for `length` in every command
    "length_infinity": (b'{"id": "a", "prompt": "p", "response": "r", "length": Infinity}\n', "positive number", 1),
    "length_nan": (b'{"id": "a", "prompt": "p", "response": "r", "length": NaN}\n', "positive number", 1),
    "length_1e309": (b'{"id": "a", "prompt": "p", "response": "r", "length": 1e309}\n', "positive number", 1),
    "length_10_pow_400": (b'{"id": "a", "prompt": "p", "response": "r", "length": 1' + b"0" * 400 + b"}\n",
                          "positive number", 1),
    "length_string": (b'{"id": "a", "prompt": "p", "response": "r", "length": "500"}\n', "positive number", 1),
    "length_bool": (b'{"id": "a", "prompt": "p", "response": "r", "length": true}\n', "positive number", 1),
    "length_zero": (b'{"id": "a", "prompt": "p", "response": "r", "length": 0}\n', "positive number", 1),
    "length_negative": (b'{"id": "a", "prompt": "p", "response": "r", "length": -5}\n', "positive number", 1),
}
MISSING_FIELD = {  # the field each command needs
    "generate": b'{"id": "a", "length": 5}\n', "write": b'{"id": "a", "length": 5}\n',
    "score": b'{"id": "a", "prompt": "p"}\n', "eval": b'{"id": "a", "prompt": "p"}\n',
    "audit": b'{"id": "a", "prompt": "p"}\n', "arena": b'{"id": "a", "prompt": "p"}\n',
    "export-sft": b'{"id": "a", "prompt": "p"}\n', "export-dpo": b'{"id": "a", "prompt": "p"}\n',
}


def command(name: str, path, tmp_path) -> list[str]:
    out = str(tmp_path / "out")
    other = write_jsonl(tmp_path / "other.jsonl", [{"id": "a", "prompt": "p", "response": "r", "model": "other"}])
    return {
        "generate": ["generate", str(path), "--out", out + ".jsonl", "--model", "/nonexistent/model"],
        "write": ["write", str(path), "--out", out + ".jsonl", "--model", "/nonexistent/model"],
        "score": ["score", str(path), "--out", out + ".jsonl", "--no-paraphrase"],
        "eval": ["eval", str(path), "--out", out],
        "audit": ["audit", str(path), "--no-paraphrase"],
        "arena": [
            "arena",
            str(path),
            str(other),
            "--out",
            out,
            "--judge",
            "http://127.0.0.1:9/v1",
            "--judge-model",
            "x",
        ],
        "export-sft": ["export-sft", str(path), "--out", out + ".jsonl"],
        "export-dpo": ["export-dpo", str(path), "--scores", str(other), "--out", out + ".jsonl"],
        "train": ["train", "--set", f"data.prompts={path}", "--set", f"output_dir={out}"],
    }[name]


COMMANDS = ["generate", "write", "score", "eval", "audit", "arena", "export-sft", "export-dpo", "train"]


def _one_line_error(capsys, path, expected: str, line: int | None) -> None:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and str(path) in lines[0], lines[0]
    assert expected in lines[0], lines[0]
    if line is not None:
        assert f"{path}:{line}:" in lines[0], lines[0]


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
@pytest.mark.parametrize("name", COMMANDS)
def test_bad_files_are_one_line_errors_with_exit_2(name, case, tmp_path, capsys):
    content, expected, line = ERROR_CASES[case]
    if name in ("generate", "write", "train") and case == "wrong_field_type":
        content = b'{"id": "a", "prompt": 7}\n'
    if name in ("generate", "write", "train") and case == "duplicate_ids":
        content = b'{"id": "a", "prompt": "p"}\n{"id": "a", "prompt": "q"}\n'
    path = tmp_path / f"{case}.jsonl"
    path.write_bytes(content)
    assert main(command(name, path, tmp_path)) == 2
    _one_line_error(capsys, path, expected, line)


@pytest.mark.parametrize("name", COMMANDS)
def test_missing_file_and_directory_are_named(name, tmp_path, capsys):
    missing = tmp_path / "nope.jsonl"
    assert main(command(name, missing, tmp_path)) == 2
    _one_line_error(capsys, missing, "not found", None)
    folder = tmp_path / "adir"
    folder.mkdir()
    assert main(command(name, folder, tmp_path)) == 2
    _one_line_error(capsys, folder, "is a directory", None)


@pytest.mark.parametrize("name", sorted(MISSING_FIELD))
def test_missing_required_field_is_named(name, tmp_path, capsys):
    path = tmp_path / "missing.jsonl"
    path.write_bytes(MISSING_FIELD[name])
    assert main(command(name, path, tmp_path)) == 2
    _one_line_error(capsys, path, "missing field", 1)


# --- defined scores ---------------------------------------------------------------------------

DEFINED = {
    # response → (expected words under the longbench counter, expected S_l against length 100, flagged malformed)
    "emoji_only": ("🙂🎉🚀 🌊🌊", 0, 0.0, False),
    "cjk_only": ("潮" * 100, 100, 100.0, False),
    "whitespace_only": ("   \n\t  ", 0, 0.0, True),
    "empty": ("", 0, 0.0, True),
}


@pytest.mark.parametrize("case", sorted(DEFINED))
def test_degenerate_responses_get_defined_scores(case, tmp_path):
    response, words, s_l, malformed = DEFINED[case]
    path = write_jsonl(tmp_path / "r.jsonl", [{"id": "x", "prompt": "Write.", "length": 100, "response": response}])
    assert main(["eval", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    item = json.loads((tmp_path / "out" / "items.jsonl").read_text())
    assert item["words"] == words and item["S_l"] == pytest.approx(s_l)
    assert ("malformed" in item["flags"]) == malformed
    assert main(["score", str(path), "--out", str(tmp_path / "s.jsonl"), "--no-paraphrase", "--quiet"]) == 0
    scored = json.loads((tmp_path / "s.jsonl").read_text())
    assert all(v is None or v == v for v in scored.values() if isinstance(v, float))  # no NaN


def test_bom_and_crlf_files_load_as_normal(tmp_path):
    rows = [
        {"id": "a", "prompt": "Write about 10 words.", "response": "one two three four five six seven eight nine ten"}
    ]
    text = "".join(json.dumps(r) + "\r\n" for r in rows)
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert main(["eval", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert json.loads((tmp_path / "out" / "items.jsonl").read_text())["S_l"] == 100
    assert main(["audit", str(path), "--no-paraphrase", "--quiet"]) == 0
    assert main(["export-sft", str(path), "--out", str(tmp_path / "sft.jsonl")]) == 0


def test_prompts_without_a_length_are_reported_apart(tmp_path, capsys):
    path = write_jsonl(
        tmp_path / "r.jsonl",
        [
            {"id": "a", "prompt": "Write a poem.", "response": "Roses."},
            {"id": "b", "prompt": "Write 5 words.", "response": "one two three four five"},
        ],
    )
    assert main(["eval", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_unscored"] == 1 and summary["S_l"] == 100
    assert "1 item(s) without a stated length" in capsys.readouterr().out


def test_a_million_word_response_scores_everywhere(tmp_path):
    big = honest_text(0, words=1_000_000)[0]
    path = write_jsonl(tmp_path / "r.jsonl", [{"id": "big", "prompt": "Write about 1000 words.", "response": big}])
    assert main(["eval", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert json.loads((tmp_path / "out" / "items.jsonl").read_text())["S_l"] == 0
    assert main(["audit", str(path), "--no-paraphrase", "--quiet"]) == 0
    assert main(["export-sft", str(path), "--out", str(tmp_path / "sft.jsonl"), "--max-redundancy", "0.5"]) == 0
