"""``collaborlog run``: one experiment end to end, the collaboration compared with its parts.

On the same test sequences: the small model alone; CollaborLog without the AEM; CollaborLog
with the AEM (the stream learns after each batch); and the LLM alone on a capped, seeded random
sample (with every system also scored on that sample). Columns: precision, recall, F1, share
sent to the LLM, LLM calls, tokens, seconds per sequence; plus the Evol-CoT table (per branch:
share of sequences and F1), the stream plots, and three explained detections.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from collaborlog import heap
from collaborlog.detector.facade import CollaborLog
from collaborlog.experiments.config import ExperimentConfig, detector_config
from collaborlog.experiments.fastpath import write_texts
from collaborlog.experiments.testsets import load_experiment_dataset, test_split
from collaborlog.experiments.tracking import Table, TrackedRun, flatten
from collaborlog.features.embeddings import default_cache_dir
from collaborlog.llm.agents import EvolCoT
from collaborlog.llm.backends import LLMClient, LLMConfig, build_client
from collaborlog.llm.governor import Governor
from collaborlog.models.metrics import Scores, score
from collaborlog.verdicts import Branch, Detection, Route


@dataclass
class SystemResult:
    system: str
    scores: Scores
    llm_share: float
    llm_calls: int
    cached_answers: int
    tokens: int
    seconds_per_sequence: float
    sample_only: bool = False


@dataclass
class RunReport:
    name: str
    test_sequences: int
    test_anomalies: int
    changed: int | None
    systems: list[SystemResult]
    on_sample: list[SystemResult]
    branches: list[dict]
    stream: dict[str, list[dict]]
    llm_share_under_10pct_after: int | None
    llm_share_by_third: list[float]
    """LLM share (with AEM) in the first, middle and last third of the stream."""
    on_changed: list[SystemResult]
    """The systems scored on the sequences the simulator changed (when it left some unchanged)."""
    token_reduction_vs_llm_alone: float | None
    examples: list[dict]
    new_messages: list[dict] = field(default_factory=list)
    """What the LLM said of each new message in the stream (with AEM): log level, what it rewords."""
    config: dict = field(default_factory=dict)
    detections: list[dict] = field(default_factory=list)
    """Per test sequence: its label and every system's verdict, with the branch and reason (with AEM)."""

    def to_dict(self) -> dict:
        """Everything but the per-sequence detections (written beside it as JSON Lines)."""
        out = asdict(self)
        del out["detections"]
        return out

    def tracked(self, images: tuple[Path, ...] = ()) -> TrackedRun:
        """The run for an experiment tracker: per system its scores, LLM share, calls and tokens."""
        metrics: dict[str, float] = {}
        rows = []
        for prefix, results in (("", self.systems), ("sample/", self.on_sample)):
            for r in results:
                values = {"precision": r.scores.precision, "recall": r.scores.recall, "f1": r.scores.f1,
                          "llm_share": r.llm_share, "llm_calls": r.llm_calls, "tokens": r.tokens,
                          "seconds_per_sequence": r.seconds_per_sequence}
                metrics.update({f"{prefix}{r.system}/{k}": float(v) for k, v in values.items()})
                rows.append((prefix + r.system, *values.values()))
        tables = {"results": Table(("system", "precision", "recall", "f1", "llm_share", "llm_calls", "tokens",
                                    "seconds_per_sequence"), tuple(rows))}
        if self.branches:
            columns = tuple(self.branches[0])
            tables["branches"] = Table(columns, tuple(tuple(b.get(c) for c in columns) for b in self.branches))
        return TrackedRun(self.name, flatten("", self.config), metrics, tables, images)


def _tokens(gov: Governor) -> tuple[int, int, int]:
    s = gov.summary()
    calls = int(sum(v["calls"] for v in s.values()))
    cached = int(sum(v["cached"] for v in s.values()))
    tokens = int(sum(v["prompt_tokens"] + v["completion_tokens"] for v in s.values()))
    return calls, cached, tokens


def _result(name: str, y: np.ndarray, det: list[Detection] | np.ndarray, seconds: float, gov: Governor | None,
            mask: np.ndarray | None = None, seed: int = 0) -> SystemResult:
    verdicts = np.array([d.verdict for d in det] if isinstance(det, list) else det, dtype=np.int8)
    routed = np.array([d.route is Route.LLM for d in det], dtype=bool) if isinstance(det, list) else np.zeros(len(y), bool)
    keep = (y >= 0) if mask is None else (mask & (y >= 0))
    calls, cached, tokens = _tokens(gov) if gov is not None else (0, 0, 0)
    return SystemResult(name, score(y[keep], verdicts[keep], seed=seed), float(routed[keep].mean()) if keep.any() else 0.0,
                        calls, cached, tokens, seconds / max(len(y), 1))


def _stream(batches: list[list[Detection]], y: np.ndarray) -> list[dict]:
    rows, seen, verdicts = [], 0, []
    for batch in batches:
        verdicts += [d.verdict for d in batch]
        seen += len(batch)
        routed = np.mean([d.route is Route.LLM for d in batch])
        keep = y[:seen] >= 0
        rows.append({"sequences": seen, "llm_share": float(routed),
                     "f1_so_far": score(y[:seen][keep], np.array(verdicts)[keep], bootstrap=0).f1})
    return rows


def _settled_after(detections: list[Detection], window: int = 100, below: float = 0.10) -> int | None:
    routed = np.array([d.route is Route.LLM for d in detections], dtype=float)
    if len(routed) < window:
        return None
    share = np.convolve(routed, np.ones(window) / window, mode="valid")
    hits = np.nonzero(share < below)[0]
    return int(hits[0] + window) if hits.size else None


def _stratified_sample(y: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Up to ``size`` test positions drawn at random under ``seed``, half of them anomalous where
    there are enough: a plain random draw of a few from a split with 1% anomalies has none."""
    size = min(size, len(y))
    rng = np.random.default_rng(seed)
    anomalous = np.nonzero(y == 1)[0]
    k = min(size // 2, len(anomalous))
    picked = rng.choice(anomalous, size=k, replace=False) if k else np.zeros(0, np.int64)
    rest = np.setdiff1d(np.arange(len(y)), picked)
    return np.sort(np.concatenate([picked, rng.choice(rest, size=size - k, replace=False)])).astype(np.int64)


def run_experiment(cfg: ExperimentConfig, config_dir: Path | None = None, data_dir: Path | None = None,
                   llm: LLMClient | None = None, seed: int | None = None) -> tuple[RunReport, CollaborLog]:
    """Fit on the history, then judge the test split with every system; returns the report and the AEM detector."""
    seed = cfg.seeds[0] if seed is None else seed
    dataset = load_experiment_dataset(cfg.dataset, cfg, config_dir, data_dir)
    testset = test_split(cfg, config_dir, data_dir, dataset)
    testset.require_labels(cfg.test_dataset or cfg.dataset)
    log, test, changed = testset.log, testset.sequences, testset.changed
    y = testset.labels
    dcfg = detector_config(cfg, seed, dataset.config.parser)

    fitted = CollaborLog(dcfg, llm=llm, cache_dir=default_cache_dir()).fit(dataset.log, dataset.splits.train,
                                                                            dataset.splits.valid)
    no_aem, with_aem, alone_det = (fitted.copy() for _ in range(3))

    t = time.perf_counter()
    feats = fitted.features(log, test)
    sm = fitted.small_model_.predict(feats.vectors)
    sm_seconds = time.perf_counter() - t
    # Freed before the embedded LLM loads, so that the peak is the larger of the two, not their
    # sum: the history (its lines stay where the test split reads them), the detector fitted on it
    # (the systems judge with their copies), and the encoder's model (the test split's messages are
    # embedded and cached by now; it loads again if a system meets a message it has not seen).
    del dataset, fitted
    no_aem.encoder.unload()
    heap.release()
    # One client for every system: an embedded model loaded once per system held three copies
    # of its weights at once (7.1 GB RSS on the main job).
    judge_with: LLMClient | LLMConfig = llm if llm is not None else (
        build_client(dcfg.llm) if dcfg.llm.backend != "none" else dcfg.llm)
    for copy in (no_aem, with_aem, alone_det):
        copy.use_llm(judge_with)

    t = time.perf_counter()
    batches_plain = list(no_aem.detect_stream(log, test, learn=False))
    plain_seconds = time.perf_counter() - t
    # Each system's own state is freed once it has judged the stream, and the heap trimmed: the
    # next system's allocations then reuse its pages, not new ones beside the LLM's.
    plain_governor = no_aem.governor
    del no_aem
    heap.release()

    t = time.perf_counter()
    batches_aem = list(with_aem.detect_stream(log, test))
    aem_seconds = time.perf_counter() - t
    heap.release()

    # LLM alone on a seeded sample: every sequence goes through the Evol-CoT agents.
    sample = _stratified_sample(y, cfg.llm_alone_sample, seed)
    n_sample = len(sample)
    agents: EvolCoT = alone_det.agents()
    sample_feats = alone_det.features(log, [test[i] for i in sample])
    t = time.perf_counter()
    alone = agents.judge_many(alone_det.evidence(sample_feats)) if n_sample else []
    alone_seconds = time.perf_counter() - t

    plain = [d for b in batches_plain for d in b]
    aem = [d for b in batches_aem for d in b]
    systems = [
        _result("small model alone", y, sm.verdict, sm_seconds, None, seed=seed),
        _result("CollaborLog without AEM", y, plain, plain_seconds, plain_governor, seed=seed),
        _result("CollaborLog with AEM", y, aem, aem_seconds, with_aem.governor, seed=seed),
    ]
    on_sample: list[SystemResult] = []
    reduction = None
    if n_sample:
        mask = np.zeros(len(y), bool)
        mask[sample] = True
        calls, cached, tokens = _tokens(agents.governor)
        ys = y[sample]
        keep = ys >= 0
        alone_v = np.array([j.verdict for j in alone], dtype=np.int8)
        on_sample = [
            SystemResult(f"LLM alone (random sample of {n_sample}, {int((y[sample] == 1).sum())} anomalous)", score(ys[keep], alone_v[keep], seed=seed), 1.0,
                         calls, cached, tokens, alone_seconds / n_sample, sample_only=True),
            _result("small model alone (same sample)", y, sm.verdict, sm_seconds, None, mask, seed),
            _result("CollaborLog without AEM (same sample)", y, plain, plain_seconds, None, mask, seed),
            _result("CollaborLog with AEM (same sample)", y, aem, aem_seconds, None, mask, seed),
        ]
        alone_tokens_per_seq = tokens / n_sample
        if alone_tokens_per_seq > 0:
            reduction = 1.0 - (systems[2].tokens / len(y)) / alone_tokens_per_seq
    on_changed: list[SystemResult] = []
    if changed is not None and 0 < changed.sum() < len(y):
        on_changed = [_result(f"{name} (changed only)", y, det, secs, None, changed, seed) for name, det, secs in
                      (("small model alone", sm.verdict, sm_seconds), ("CollaborLog without AEM", plain, plain_seconds),
                       ("CollaborLog with AEM", aem, aem_seconds))]
    routed = np.array([d.route is Route.LLM for d in aem], dtype=float)
    thirds = [float(part.mean()) if part.size else 0.0 for part in np.array_split(routed, 3)]
    branches = []
    for branch in Branch:
        idx = [i for i, d in enumerate(aem) if d.branch is branch]
        if idx:
            keep = y[idx] >= 0
            s = score(y[idx][keep], np.array([aem[i].verdict for i in idx])[keep], bootstrap=0)
            branches.append({"branch": branch.value, "share": len(idx) / len(aem), "sequences": len(idx),
                             "anomalies": s.anomalies, "f1": s.f1})
    # One explained detection per LLM branch: from the AEM stream, else the stream without it, else
    # the LLM-alone sample (where every sequence meets the agents).
    found = [(i, d, "with AEM") for i, d in enumerate(aem)] + [(i, d, "without AEM") for i, d in enumerate(plain)] + [
        (int(i), j, "LLM alone") for i, j in zip(sample, alone)]
    examples = []
    for branch in (Branch.EVOL_DETECT, Branch.AD_CERTAIN, Branch.AD_UNCERTAIN):
        hit = next(((i, d, system) for i, d, system in found if d.branch is branch), None)
        if hit is not None:
            i, d, system = hit
            examples.append({"branch": branch.value, "system": system, "sequence": test[i].id, "label": int(y[i]),
                             "verdict": d.verdict, "reason": d.reason, "compared_with": list(d.compared_with),
                             "evolved_from": d.evolved_from, "lines": feats.messages[i][:12]})
    report = RunReport(
        name=cfg.name, test_sequences=len(y), test_anomalies=int((y == 1).sum()),
        changed=int(changed.sum()) if changed is not None else None, systems=systems, on_sample=on_sample,
        branches=branches, stream={"without_aem": _stream(batches_plain, y), "with_aem": _stream(batches_aem, y)},
        llm_share_under_10pct_after=_settled_after(aem), llm_share_by_third=thirds, on_changed=on_changed,
        token_reduction_vs_llm_alone=reduction, examples=examples,
        new_messages=[v.to_json() for v in with_aem.messages_.values()],
        config=cfg.model_dump(mode="json"),
        detections=[{"sequence": s.id, "label": int(s.label), "changed": bool(changed[i]) if changed is not None else None,
                     "small_model": int(sm.verdict[i]), "without_aem": int(plain[i].verdict),
                     "without_aem_branch": plain[i].branch.value, "verdict": int(aem[i].verdict),
                     "branch": aem[i].branch.value, "route": aem[i].route.value, "reason": aem[i].reason,
                     "compared_with": list(aem[i].compared_with), "evolved_from": aem[i].evolved_from,
                     "fallback": aem[i].fallback} for i, s in enumerate(test)],
    )
    return report, with_aem


def markdown(report: RunReport) -> str:
    out = [f"# {report.name}", "",
           f"Test: {report.test_sequences:,} sequences, {report.test_anomalies} anomalous"
           + (f", {report.changed:,} changed by the simulator" if report.changed is not None else ""), "",
           "| system | P | R | F1 [95% CI] | anomalies | LLM share | LLM calls (+cached) | tokens | s/seq |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in report.systems + report.on_sample + report.on_changed:
        s = r.scores
        out.append(f"| {r.system} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} [{s.f1_low:.2f}, {s.f1_high:.2f}] | "
                   f"{s.anomalies} | {r.llm_share:.1%} | {r.llm_calls} (+{r.cached_answers}) | {r.tokens:,} | "
                   f"{r.seconds_per_sequence:.3f} |")
    out += ["", "Evol-CoT branches (CollaborLog with AEM):", "", "| branch | share | sequences | anomalies | F1 |",
            "|---|---|---|---|---|"]
    out += [f"| {b['branch']} | {b['share']:.1%} | {b['sequences']} | {b['anomalies']} | {b['f1']:.3f} |"
            for b in report.branches]
    settled = report.llm_share_under_10pct_after
    out += ["", "LLM share over a sliding window of 100 sequences falls under 10% after: "
                + (f"{settled} sequences" if settled is not None else "never (or the stream is shorter than a window)"),
            "LLM share with AEM by third of the stream: " + " / ".join(f"{v:.1%}" for v in report.llm_share_by_third)]
    if report.token_reduction_vs_llm_alone is not None:
        out.append(f"Tokens per sequence vs LLM alone: {report.token_reduction_vs_llm_alone:.1%} fewer")
    if report.new_messages:
        out += ["", "New messages (what the LLM said of each, once):", "",
                "| message | level | reads as |", "|---|---|---|"]
        def cell(text: str) -> str:
            return "`" + text.replace("|", "\\|") + "`"
        out += [f"| {cell(m['message'])} | {m['level']} | {cell(m['rewords']) if m['rewords'] else 'a new event'} |"
                for m in report.new_messages]
    out += ["", "## Explained detections", ""]
    for e in report.examples:
        out += [f"**{e['branch']}** ({e['system']}): sequence {e['sequence']} (label {e['label']}) judged "
                f"{'Abnormal' if e['verdict'] else 'Normal'}; compared with {', '.join(e['compared_with']) or '-'}"
                + (f"; evolved from {e['evolved_from']}" if e["evolved_from"] else ""),
                f"reason: {e['reason']}", "", "```", *e["lines"], "```", ""]
    shown = {e["branch"] for e in report.examples}
    out += [f"**{b.value}**: no sequence took this branch in this run (no system, no sample)." for b in
            (Branch.EVOL_DETECT, Branch.AD_CERTAIN, Branch.AD_UNCERTAIN) if b.value not in shown]
    return "\n".join(out)


def write_run(report: RunReport, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = write_texts(folder, {"results.json": json.dumps(report.to_dict(), indent=2), "results.md": markdown(report),
                                   "detections.jsonl": "".join(json.dumps(d) + "\n" for d in report.detections)})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for key, style in (("without_aem", "s--"), ("with_aem", "o-")):
        rows = report.stream[key]
        xs = [r["sequences"] for r in rows]
        axes[0].plot(xs, [r["llm_share"] for r in rows], style, label=key.replace("_", " "))
        axes[1].plot(xs, [r["f1_so_far"] for r in rows], style, label=key.replace("_", " "))
    axes[0].set_title("share of each batch sent to the LLM")
    axes[1].set_title("F1 so far")
    for ax in axes:
        ax.set_xlabel("sequences seen")
        ax.set_ylim(-0.02, 1.02)
        ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "stream.png", dpi=120)
    plt.close(fig)
    return written + [folder / "stream.png"]
