"""Quality scorers: embedded proxy, a sequence-classification reward model, and an LLM judge."""

import pytest

from lengthwise.backends.base import GenerationResult
from lengthwise.judging.rubric import DIMENSIONS, JudgeParseError, parse_judge_reply, quality_score
from lengthwise.rewards.quality import EmbeddedProxyScorer, LLMJudgeScorer, RewardModelScorer, mattr
from lengthwise.synthetic import hacking_corpus


def scores_json(values=(5, 4, 4, 5, 3, 4), analysis="fine"):
    body = ", ".join(f'"{d}": {v}' for d, v in zip(DIMENSIONS, values, strict=True))
    return '{"analysis": "' + analysis + '", ' + body + "}"


def test_mattr_is_length_independent_and_sees_repetition():
    varied = [f"w{i}" for i in range(400)]
    assert mattr(varied) == 1.0
    assert mattr(["a", "b"] * 200) == pytest.approx(2 / 50)
    assert mattr([]) == 0.0


def test_proxy_prefers_relevant_varied_text_and_reports_its_parts():
    proxy = EmbeddedProxyScorer()
    honest = next(s for s in hacking_corpus(2) if s.kind == "honest")
    d = proxy.details(honest.prompt, honest.text)
    assert set(d) >= {"relevance", "coherence", "diversity", "score"} and 0 <= d["score"] <= 1
    off_topic = proxy.details(honest.prompt, "Quarterly tax filing deadlines for corporations. " * 3)
    assert off_topic["relevance"] < d["relevance"]
    assert proxy.score(["p"], [""]) == [0.0]


@pytest.fixture(scope="module")
def tiny_reward_model(tmp_path_factory, tiny_model_dir):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    out = tmp_path_factory.mktemp("rm")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        num_labels=1,
        pad_token_id=tok.pad_token_id,
    )
    LlamaForSequenceClassification(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_reward_model_scorer_gives_a_probability_per_pair(tiny_reward_model):
    import pickle

    scorer = RewardModelScorer(str(tiny_reward_model), device="cpu", batch_size=2)
    out = scorer.score(["a", "b", "c"], ["one", "two two", "three three three"])
    assert len(out) == 3 and all(0 < v < 1 for v in out)
    assert scorer.score(["b"], ["two two"])[0] == pytest.approx(out[1], abs=1e-5)  # padding does not change a score
    again = pickle.loads(pickle.dumps(scorer))
    assert again.score(["a"], ["one"])[0] == pytest.approx(out[0], abs=1e-5)


class ScriptedGenerator:
    """Replies from a script, one per request, in order; records the requests."""

    name, model_name = "scripted", "judge"

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests = []

    def generate(self, requests, on_result=None):
        out = []
        for r in requests:
            self.requests.append(r)
            reply = self.replies.pop(0)
            out.append(
                reply if isinstance(reply, GenerationResult) else GenerationResult(text=reply, finish_reason="stop")
            )
        return out

    def close(self):
        pass


def test_judge_retries_unparseable_replies_then_counts_failures():
    gen = ScriptedGenerator([
        "```json\n" + scores_json() + "\n```",  # item 0: fine first time
        "I think it is good.",  # item 1: no JSON
        "not json either",  # item 2: no JSON
        scores_json(values=(1, 1, 1, 1, 1, 1)),  # item 1 retry: ok
        GenerationResult(text="", finish_reason="error", error="http_500"),  # item 2 retry: backend failure
        '{"Relevance": 6}',  # item 2 last try: invalid
    ])
    judge = LLMJudgeScorer(gen, max_attempts=3)
    out = judge.score(["p0", "p1", "p2"], ["r0", "r1", "r2"])
    assert out[0] == pytest.approx(sum((v - 1) / 4 for v in (5, 4, 4, 5, 3, 4)) / 6)
    assert out[1] == 0.0
    assert out[2] is None
    assert sum(judge.failures.values()) == 1
    assert next(iter(judge.failures)).startswith("parse:")
    assert len(gen.requests) == 6


@pytest.mark.parametrize(
    "reply, ok",
    [
        ("```json\n" + scores_json() + "\n```", True),
        (scores_json().replace(", ", ",\n  "), True),  # multi-line
        (scores_json(analysis="uses {braces} and \\\"quotes\\\" inside"), True),
        ("Analysis first. " + scores_json() + " trailing words", True),
        (scores_json().replace('"Clarity": 5, ', ""), False),  # missing dimension
        (scores_json(values=(6, 4, 4, 5, 3, 4)), False),  # out of range
        (scores_json(values=(4.5, 4, 4, 5, 3, 4)), False),  # not an integer
        ("", False),
        ("{broken json", False),
    ],
)
def test_judge_reply_parsing(reply, ok):
    if ok:
        scores = parse_judge_reply(reply)
        assert set(scores) == set(DIMENSIONS) and all(isinstance(v, int) for v in scores.values())
    else:
        with pytest.raises(JudgeParseError):
            parse_judge_reply(reply)


def test_quality_score_golden_values():
    assert quality_score({d: 5 for d in DIMENSIONS}) == 100.0
    assert quality_score({d: 1 for d in DIMENSIONS}) == 0.0
    assert quality_score({d: 3 for d in DIMENSIONS}) == 50.0
    with pytest.raises(ValueError):
        quality_score({"Relevance": 3})
