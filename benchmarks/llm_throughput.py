"""The embedded LLM against raw llama.cpp on the same prompts: prompt and generation tokens/s,
seconds and tokens per call, per branch (Evol Detect, AD certain, AD uncertain).

    python benchmarks/llm_throughput.py [--model qwen2.5-coder-1.5b] [--rounds 3] [--threads N]

Prompts are the shipped templates filled with real hdfs sequences (masked, as the agents show
them), asked in the order a run asks them: for each routed sequence Evol Detect, then the AD
agent. Each question goes first to *raw* llama.cpp (``Llama.reset``, ``eval`` of the chat-formatted
prompt, then as many greedy tokens as our path produced, no grammar: the hardware rate), then to
:class:`collaborlog.llm.backends.EmbeddedClient` (our call path: chat template, JSON-schema
grammar, sampling, the shared-prefix KV snapshots of :mod:`collaborlog.llm.kv_snapshots`). Both run in this process with the same
threads, one after the other, so they see the same load; the figure that matters is the ratio,
``raw seconds / our seconds`` per call (goal >= 0.8), not the absolute rate on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from collaborlog.data.dataset import find_data_dir, load_dataset, preset_config
from collaborlog.llm.backends import ChatRequest, EmbeddedClient, LLMConfig
from collaborlog.llm.gguf import resolve_model
from collaborlog.llm.omp_wait import prefer_passive_wait
from collaborlog.llm.prompts import EVOL_SCHEMA, STATE_SCHEMA, load_prompts, render_diff, render_sequence
from collaborlog.parsing.masking import build_masker, masking_rules


def sequences(rounds: int, data_dir: str | None) -> tuple[list[list[str]], list[list[str]]]:
    """Distinct masked hdfs sequences: normal ones and abnormal ones (enough for ``rounds``)."""
    dataset = load_dataset(preset_config("hdfs"), find_data_dir(data_dir))
    masker = build_masker(masking_rules(dataset.config.parser))
    seen: set[tuple[str, ...]] = set()
    normal: list[list[str]] = []
    abnormal: list[list[str]] = []
    for seq in dataset.splits.train:
        msgs = [masker.mask(dataset.log.content[i]) for i in seq.lines]
        key = tuple(dict.fromkeys(msgs))
        if key in seen:
            continue
        seen.add(key)
        (abnormal if seq.label else normal).append(msgs)
        if len(normal) >= 4 * rounds and len(abnormal) >= 2 * rounds:
            break
    return normal, abnormal


def requests(rounds: int, data_dir: str | None, max_tokens: int) -> list[tuple[str, ChatRequest]]:
    normal, abnormal = sequences(rounds, data_dir)
    prompts = load_prompts()
    signals = "none of its lines resembles a message seen only in past failures"
    out = []
    for r in range(rounds):
        judged = normal[4 * r]
        system, user = prompts["evol_detect"].render(diff=render_diff(normal[4 * r + 1], judged))
        out.append(("evol_detect", ChatRequest(system, user, EVOL_SCHEMA, max_tokens)))
        examples = "\n\n".join(f"Example {k + 1} (Normal):\n{render_sequence(normal[4 * r + 1 + k])}" for k in range(2))
        system, user = prompts["ad_certain"].render(examples=examples, sequence=render_sequence(judged), signals=signals)
        out.append(("ad_certain", ChatRequest(system, user, STATE_SCHEMA, max_tokens)))
        system, user = prompts["evol_detect"].render(diff=render_diff(normal[4 * r + 3], abnormal[2 * r]))
        out.append(("evol_detect", ChatRequest(system, user, EVOL_SCHEMA, max_tokens)))
        system, user = prompts["ad_uncertain"].render(
            normal=render_sequence(normal[4 * r + 3]), abnormal=render_sequence(abnormal[2 * r + 1]),
            sequence=render_sequence(abnormal[2 * r]), signals=signals)
        out.append(("ad_uncertain", ChatRequest(system, user, STATE_SCHEMA, max_tokens)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--rounds", type=int, default=3, help="routed sequences of each kind (4 questions a round)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--spin", action="store_true", help="leave OpenMP's wait policy alone (the CLI sets it passive)")
    args = ap.parse_args()
    if not args.spin:
        prefer_passive_wait()

    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    config = LLMConfig(model=args.model, threads=args.threads)
    asked = requests(args.rounds, args.data_dir, config.max_tokens)
    threads = config.threads or os.cpu_count() or 1
    raw = Llama(model_path=str(resolve_model(config.model)), n_ctx=config.context, n_threads=threads,
                n_threads_batch=threads, seed=config.seed, verbose=False)
    eos = raw.detokenize([raw.token_eos()], special=True).decode()
    bos = raw.detokenize([raw.token_bos()], special=True).decode() if raw.token_bos() != -1 else ""
    formatter = Jinja2ChatFormatter(raw.metadata["tokenizer.chat_template"], eos, bos)
    ours = EmbeddedClient(config)

    rows = []
    for branch, request in asked:
        chat = formatter(messages=[{"role": "system", "content": request.system},
                                   {"role": "user", "content": request.user}])
        tokens = raw.tokenize(chat.prompt.encode(), add_bos=not chat.added_special, special=True)
        done = ours.complete(request)
        raw.reset()
        t0 = time.perf_counter()
        raw.eval(tokens)
        t1 = time.perf_counter()
        made = 0
        for _ in raw.generate([], temp=0.0, reset=False):
            made += 1
            if made >= done.completion_tokens:
                break
        t2 = time.perf_counter()
        rows.append((branch, len(tokens), done.prompt_tokens, done.completion_tokens, t1 - t0, t2 - t1, done.seconds))
        print(f"  {branch:12s} prompt {len(tokens):4d} tok (ours {done.prompt_tokens}), answer "
              f"{done.completion_tokens:3d} tok | raw {t1 - t0:5.2f} s + {t2 - t1:5.2f} s | ours {done.seconds:5.2f} s "
              f"| ratio {(t2 - t0) / done.seconds:.2f}", flush=True)

    restored = ours.snapshots.restored_tokens if ours.snapshots else 0
    print(f"\nmodel {config.model}, {threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
          f"{len(rows)} calls; prompt tokens our path took from KV snapshots: {restored} of "
          f"{sum(r[1] for r in rows)}")
    print(f"{'branch':13s} {'calls':>5s} {'prompt tok':>10s} {'answer tok':>10s} {'raw pp tok/s':>12s} "
          f"{'raw gen tok/s':>13s} {'raw s/call':>10s} {'ours s/call':>11s} {'ours/raw rate':>13s}")
    for branch in ("evol_detect", "ad_certain", "ad_uncertain", "all"):
        sel = [r for r in rows if branch in ("all", r[0])]
        pp = sum(r[1] for r in sel) / sum(r[4] for r in sel)
        gen = sum(r[3] for r in sel) / max(sum(r[5] for r in sel), 1e-9)
        raw_s = statistics.mean(r[4] + r[5] for r in sel)
        our_s = statistics.mean(r[6] for r in sel)
        print(f"{branch:13s} {len(sel):5d} {statistics.mean(r[1] for r in sel):10.0f} "
              f"{statistics.mean(r[3] for r in sel):10.1f} {pp:12.1f} {gen:13.1f} {raw_s:10.2f} {our_s:11.2f} "
              f"{raw_s / our_s:13.2f}")
    ratios = [(r[4] + r[5]) / r[6] for r in rows]
    print(f"per-call ratio raw/ours: median {statistics.median(ratios):.2f}, min {min(ratios):.2f}, "
          f"max {max(ratios):.2f} (goal >= 0.80)")


if __name__ == "__main__":
    main()
