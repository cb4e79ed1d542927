"""`lengthwise score` and `lengthwise bias` end to end."""

import json

import pytest

from conftest import write_jsonl
from lengthwise.cli import main
from lengthwise.synthetic import hacking_corpus


def rows(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def responses(tmp_path_factory):
    corpus = hacking_corpus(2, seed=0)
    items = [
        {"id": f"r{k}", "prompt": "Write about 1500 words on a lighthouse town.", "response": s.text, "kind": s.kind,
         "language": s.language}
        for k, s in enumerate(corpus)
    ]
    items.append({"id": "empty", "prompt": "Write a poem.", "response": ""})
    return write_jsonl(tmp_path_factory.mktemp("score") / "responses.jsonl", items)


def test_score_writes_every_component_and_the_detectors_evidence(tmp_path, responses, capsys):
    out = tmp_path / "scores.jsonl"
    assert main(["score", str(responses), "-o", str(out), "-q"]) == 0
    scored = {r["id"]: r for r in rows(out)}
    kinds = {r["id"]: r["kind"] for r in rows(responses) if "kind" in r}
    languages = {r["id"]: r.get("language") for r in rows(responses)}
    assert len(scored) == len(kinds) + 1
    for r in scored.values():
        assert set(r) >= {"length", "quality", "format", "score", "words", "counter", "stack_version", "detectors"}
    for item_id, kind in kinds.items():
        d = scored[item_id]["detectors"]
        if kind == "paste":
            assert d["exact_repetition"]["flagged"] and d["exact_repetition"]["spans"]
        if kind == "stuffing" and languages[item_id] == "en":  # Chinese stuffing: a known gap (docs/rewards.md)
            assert d["keyword_stuffing"]["flagged"] and d["keyword_stuffing"]["terms"]
        if kind in ("honest", "poem"):
            assert not any(v["flagged"] for v in d.values())
    assert scored["empty"]["length"] is None and scored["empty"]["quality"] == 0.0
    out_text = capsys.readouterr().out
    assert "flagged by detector" in out_text
    # Rerun: nothing new, nothing duplicated.
    assert main(["score", str(responses), "-o", str(out), "-q"]) == 0
    assert len(rows(out)) == len(scored)


def test_score_with_a_yaml_stack_and_bad_stacks(tmp_path, responses, capsys):
    import yaml

    stack = tmp_path / "stack.yaml"
    stack.write_text(yaml.safe_dump({"components": [{"name": "sl", "type": "length_score"}],
                                     "detectors": {"paraphrase": False}}))
    out = tmp_path / "s.jsonl"
    assert main(["score", str(responses), "-o", str(out), "--stack", str(stack), "-q"]) == 0
    assert "sl" in rows(out)[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"components": [{"type": "nope"}]}))
    assert main(["score", str(responses), "-o", str(tmp_path / "x.jsonl"), "--stack", str(bad)]) == 2
    assert "unknown type 'nope'" in capsys.readouterr().err
    assert (
        main(["score", str(responses), "-o", str(tmp_path / "x.jsonl"), "--stack", str(tmp_path / "missing.yaml")]) == 2
    )


def test_score_bad_rows_are_named_by_file_and_line(tmp_path, capsys):
    p = tmp_path / "r.jsonl"
    p.write_text('{"id": 1, "prompt": "p", "response": "ok"}\n{"id": 2, "prompt": "p"}\n')
    assert main(["score", str(p), "-o", str(tmp_path / "o.jsonl"), "-q"]) == 2
    assert f"{p}:2: missing field 'response'" in capsys.readouterr().err
    p.write_text('{"id": 1, "prompt": "p", "response": "ok"}\n{"id": 1, "prompt": "p", "response": "again"}\n')
    assert main(["score", str(p), "-o", str(tmp_path / "o.jsonl"), "-q"]) == 2
    assert "duplicate id '1'" in capsys.readouterr().err


def test_bias_command_shows_luspo_undoes_the_length_bias(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "bias"
    assert main(["bias", "--out", str(out), "--lengths", "8,16,32", "--trl-check", "--model", str(tiny_model_dir)]) == 0
    payload = json.loads((out / "bias.json").read_text())
    ratio = {(r["preset"], r["length"], r["sign"]): r["per_sequence_ratio"] for r in payload["rows"]}
    assert ratio[("grpo", 32, "+")] == pytest.approx(1.0) and ratio[("gspo", 32, "+")] == pytest.approx(1.0)
    assert ratio[("luspo", 32, "+")] == pytest.approx(4.0) and ratio[("dr_grpo", 32, "-")] == pytest.approx(4.0)
    assert all(r["abs_diff"] <= 1e-6 for r in payload["trl_parity"])
    assert (out / "bias.png").stat().st_size > 10_000
    assert main(["bias", "--lengths", "a,b"]) == 2
