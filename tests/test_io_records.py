import json

import pytest

from conftest import write_jsonl
from lengthwise.errors import InputError
from lengthwise.io import ResumableJsonl, atomic_write_json, read_jsonl, repair_truncated_tail
from lengthwise.records import load_prompts


def test_read_jsonl_accepts_bom_crlf_and_blank_lines(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"prompt": "a"}\r\n\r\n{"prompt": "b"}\r\n')
    rows = read_jsonl(p)
    assert [r["prompt"] for r in rows] == ["a", "b"]
    assert rows.line_numbers == [1, 3]


@pytest.mark.parametrize(
    "content, problem",
    [
        (b'{"prompt": "ok"}\n{"prompt": broken\n', "2: not valid JSON"),
        (b'{"prompt": "ok"}\n[1, 2]\n', "2: expected a JSON object"),
        (b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n', "2: not valid UTF-8 (byte 0xe9"),
    ],
)
def test_read_jsonl_names_file_and_line(tmp_path, content, problem):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_jsonl(p)
    assert str(err.value).startswith(f"{p}:{problem}")
    assert "\n" not in str(err.value)


def test_read_jsonl_skip_bad_counts_what_it_skipped(tmp_path):
    p = tmp_path / "mixed.jsonl"
    p.write_bytes(b'{"prompt": "a"}\nnot json\n{"prompt": "b"}\n')
    rows = read_jsonl(p, skip_bad=True)
    assert len(rows) == 2 and len(rows.skipped) == 1 and f"{p}:2:" in rows.skipped[0]


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_read_jsonl_empty_file_is_an_error(tmp_path, content):
    p = tmp_path / "empty.jsonl"
    p.write_bytes(content)
    with pytest.raises(InputError, match="no rows"):
        read_jsonl(p)


def test_read_jsonl_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="is a directory"):
        read_jsonl(tmp_path)


def test_load_prompts_accepts_longbench_and_arena_rows(tmp_path):
    p = write_jsonl(tmp_path / "p.jsonl", [
        {"prompt": "Write a poem.", "type": "poem", "length": 200},
        {"idx": 7, "question": "写一篇800字的作文", "type": "essay", "length": 800, "baseline_response": "..."},
        {"id": "x", "prompt": "Write about 300 words on tea."},
        {"id": "y", "prompt": "Write anything."},
    ])
    records, skipped = load_prompts(p)
    assert skipped == []
    assert [r.id for r in records] == ["line-1", "7", "x", "y"]
    assert [r.length for r in records] == [200, 800, 300, None]
    assert records[1].prompt == "写一篇800字的作文" and records[1].extra["baseline_response"] == "..."
    assert records[2].constraint.kind == "about"


@pytest.mark.parametrize(
    "row, problem",
    [
        ({"id": "a"}, "missing field 'prompt'"),
        ({"prompt": 5}, "field 'prompt' must be a string"),
        ({"prompt": "  "}, "field 'prompt' is empty"),
        ({"prompt": "x", "length": -3}, "field 'length' must be a positive number"),
        ({"prompt": "x", "length": "500"}, "field 'length' must be a positive number"),
    ],
)
def test_load_prompts_rejects_bad_rows_with_file_line(tmp_path, row, problem):
    p = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "fine"}, row])
    with pytest.raises(InputError) as err:
        load_prompts(p)
    assert str(err.value) == f"{p}:2: {problem}" or str(err.value).startswith(f"{p}:2: {problem}")


def test_load_prompts_rejects_duplicate_ids(tmp_path):
    p = write_jsonl(tmp_path / "p.jsonl", [{"id": 1, "prompt": "a"}, {"id": "1", "prompt": "b"}])
    with pytest.raises(InputError, match=r":2: duplicate id '1' \(first on line 1\)"):
        load_prompts(p)
    records, skipped = load_prompts(p, skip_bad=True)
    assert len(records) == 1 and len(skipped) == 1


def test_resumable_writer_skips_done_ids_and_repairs_a_torn_tail(tmp_path):
    p = tmp_path / "out.jsonl"
    with ResumableJsonl(p) as w:
        w.append({"id": "a", "v": 1})
        w.append({"id": "b", "v": 2})
        w.append({"id": "a", "v": 99})  # already done: ignored
    with open(p, "ab") as fh:
        fh.write(b'{"id": "c", "v"')  # a crash mid-write
    w = ResumableJsonl(p)
    assert w.repaired_bytes == len(b'{"id": "c", "v"')
    assert "a" in w and "b" in w and "c" not in w
    w.append({"id": "c", "v": 3})
    w.close()
    lines = p.read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["a", "b", "c"]


def test_repair_on_a_file_with_one_torn_line_empties_it(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'{"id": 1')
    assert repair_truncated_tail(p) == 8
    assert p.read_bytes() == b""


def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic_write_json(tmp_path / "s.json", {"a": 1})
    atomic_write_json(tmp_path / "s.json", {"a": 2})
    assert json.loads((tmp_path / "s.json").read_text()) == {"a": 2}
    assert [f.name for f in tmp_path.iterdir()] == ["s.json"]
