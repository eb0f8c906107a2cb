"""Evol Detect's question about single new messages, with the embedded model: how often a
rewording is read as the message it rewords, and how often the log level it is given tells a
failure message from a routine one.

    python benchmarks/new_messages.py [configs/hdfs-upgrade.yaml] [--model qwen2.5-coder-1.5b]

The experiment's simulator settings rewrite its test split with the event flow kept
(``sequence_ratio`` 0), so each rewritten line still sits where its original did: that pairs
every new masked message with the old one it rewords. Each new message that nothing known
aligns to is asked about once, as in a run, with the known messages the detector offers.
Reported: *alias precision* (of the messages read as an old one, how many were read as their
own original), *alias recall* (of all new messages whose original the detector knows), and for
"problem" (log level WARN or above) precision and recall against "the original is a message the
labelled history saw only in failures". Answers are cached, so a rerun is quick.

``--levels`` also asks about each message of the labelled history as if it were a new event
(no old message offered) and scores "problem" against "the history saw it only in failures":
how well the log level the model gives tells failure messages from routine ones.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from collaborlog.data.levels import message_levels
from collaborlog.detector import questions
from collaborlog.detector.facade import CollaborLog
from collaborlog.experiments.config import detector_config, load_experiment
from collaborlog.experiments.simulator import evolve
from collaborlog.experiments.testsets import load_experiment_dataset
from collaborlog.llm.backends import LLMConfig, build_client


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", default="configs/hdfs-upgrade.yaml")
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--levels", action="store_true", help="also score the levels of the history's own messages")
    args = ap.parse_args()

    cfg, config_dir = load_experiment(Path(args.config))
    if cfg.evolve is None:
        raise SystemExit(f"{args.config} has no simulator settings (evolve:)")
    dataset = load_experiment_dataset(cfg.dataset, cfg, config_dir, None)
    test = dataset.splits.test
    evolved = evolve(dataset.log, test, cfg.evolve.model_copy(update={"sequence_ratio": 0.0}), dataset.config.parser)
    base = detector_config(cfg, cfg.seeds[0], dataset.config.parser).model_copy(
        update={"llm": LLMConfig(model=args.model), "governor": cfg.detector.governor.model_copy(update={"max_calls": None})})
    det = CollaborLog(base, llm=build_client(base.llm)).fit(dataset.log, dataset.splits.train, dataset.splits.valid)

    old = det.features(dataset.log, test)
    new = det.features(evolved.log, evolved.sequences)
    original: dict[str, Counter] = {}
    for was, now in zip(old.messages, new.messages):
        for a, b in zip(was, now):
            original.setdefault(b, Counter())[a] += 1
    t = time.perf_counter()
    verdicts = questions.new_message_verdicts(det, new, list(range(len(test))), det.vanished_.plus(new.aligned),
                                  message_levels(evolved.log, evolved.sequences, new.messages))
    seconds = time.perf_counter() - t
    calls = det.governor.summary().get("new_message", {})

    known = det.aligner_.messages_ if det.aligner_ is not None else []
    aliased = right = recallable = tp = fp = fn = 0
    for message, v in verdicts.items():
        truth = original[message].most_common(1)[0][0]
        recallable += truth in known
        if v.rewords is not None:
            aliased += 1
            right += v.rewords == truth
        failure = det.signatures_.failure_only(truth)
        tp += v.problem and failure
        fp += v.problem and not failure
        fn += failure and not v.problem
        print(f"{v.level:5} {'=' if v.rewords == truth else ('~' if v.rewords else ' ')} {message!r} "
              f"(was {truth!r}{', failure-only' if failure else ''})")
    print(f"\n{cfg.name}: {len(verdicts)} new messages asked about in {seconds:.0f} s "
          f"({calls.get('calls', 0)} calls, {calls.get('cached', 0)} cached, "
          f"{calls.get('prompt_tokens', 0)} + {calls.get('completion_tokens', 0)} tokens)")
    print(f"read as an old message: {aliased}; as their own original: {right} "
          f"(alias precision {right / aliased if aliased else float('nan'):.3f}, "
          f"recall {right / recallable if recallable else float('nan'):.3f} of {recallable} whose original is known)")
    print(f"problem (WARN or above) vs failure-only original: {tp} right, {fp} false alarms, {fn} missed")
    if args.levels:
        history = det.signatures_.messages_
        t = time.perf_counter()
        said = det.agents().judge_messages({m: [] for m in history})
        seconds = time.perf_counter() - t
        table = Counter()
        for m in history:
            if m in said:
                failure = det.signatures_.failure_only(m)
                table[(failure, said[m].problem)] += 1
                print(f"{said[m].level:5} {'failure-only' if failure else 'routine':12} {m!r}")
        print(f"\nhistory messages as new events: {len(said)} of {len(history)} answered in {seconds:.0f} s; "
              f"failure-only called a problem {table[(True, True)]} of {table[(True, True)] + table[(True, False)]}, "
              f"others called a problem {table[(False, True)]} of {table[(False, True)] + table[(False, False)]}")


if __name__ == "__main__":
    main()
