"""The evaluation harness: one YAML file describes one experiment; it prints a table and writes
JSON, Markdown and plots.

Systems compared on the same test sequences: the small model alone; the coordinator's routing
with the small model answering both routes (what the SM gets wrong on evolved input shows in
the LLM route's F1); and a classical event-count baseline. Every F1 comes with the number of
anomalies it rests on and a bootstrap 95% interval. Labels of test sequences are read only by
the scoring code, after every prediction is made.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from collaborlog.atomic import atomic_write_text
from collaborlog.data.dataset import Dataset
from collaborlog.experiments.baselines import EventCountBaseline
from collaborlog.experiments.config import ExperimentConfig
from collaborlog.experiments.testsets import load_experiment_dataset, test_split
from collaborlog.experiments.tracking import Table, TrackedRun, flatten
from collaborlog.features.embeddings import EmbeddingCache, default_cache_dir
from collaborlog.features.encoders import build_encoder
from collaborlog.features.featurizer import Featurizer, SequenceFeatures, fit_history
from collaborlog.models.coordinator import Coordinator
from collaborlog.models.metrics import Scores, score
from collaborlog.models.small_model import SmallModel
from collaborlog.parsing.templates import TemplateMiner
from collaborlog.records import Sequence
from collaborlog.verdicts import Route


@dataclass
class Prepared:
    """Features and labels of each split; ``changed`` marks evolved test sequences."""

    dataset: Dataset
    train: SequenceFeatures
    valid: SequenceFeatures
    test: SequenceFeatures
    test_sequences: list[Sequence]
    y: dict[str, np.ndarray]
    changed: np.ndarray | None
    original_test: SequenceFeatures | None
    seconds_per_sequence: float


def _labels(seqs: list[Sequence]) -> np.ndarray:
    return np.array([s.label for s in seqs], dtype=np.int8)


def prepare(config: ExperimentConfig, config_dir: Path | None, data_dir: Path | None) -> Prepared:
    """Load the dataset, choose its test split, and compute features of every split the way the
    detector does (:func:`collaborlog.features.featurizer.fit_history`: test lines are read through
    the aligner fitted on the history's messages)."""
    dataset = load_experiment_dataset(config.dataset, config, config_dir, data_dir)
    testset = test_split(config, config_dir, data_dir, dataset)
    testset.require_labels(config.test_dataset or config.dataset)
    encoder = build_encoder(config.detector.encoder)
    featurizer = Featurizer(TemplateMiner(dataset.config.parser), encoder,
                            EmbeddingCache(encoder.identity, default_cache_dir()))
    start = time.perf_counter()
    # History first, in time order, so that templates are mined as a stream would see them.
    history = fit_history(featurizer, dataset.log, dataset.splits.train, dataset.splits.valid,
                          config.detector.align_threshold)
    changed, original = testset.changed, None
    if testset.evolved:
        original = featurizer.transform(dataset.log, dataset.splits.test)
    test = featurizer.transform(testset.log, testset.sequences)
    if changed is not None and not testset.evolved:
        # A sessions file: compared with the original test split only where it changed something.
        if changed.any():
            original = featurizer.transform(dataset.log, dataset.splits.test)
        else:
            changed = None
    n = len(dataset.splits.train) + len(dataset.splits.valid) + len(testset.sequences)
    elapsed = time.perf_counter() - start
    y = {"train": _labels(dataset.splits.train), "valid": _labels(dataset.splits.valid), "test": testset.labels}
    return Prepared(dataset, history.train, history.valid, test, testset.sequences, y, changed, original,
                    elapsed / max(n, 1))


@dataclass
class SystemRow:
    system: str
    scores: Scores
    llm_share: float | None = None
    per_route: dict[str, Scores] = field(default_factory=dict)
    seconds_per_sequence: float = 0.0


@dataclass
class SeedResult:
    seed: int
    k: int
    tau: float
    rows: list[SystemRow]
    tau_sensitivity: list[dict]
    k_sensitivity: list[dict]
    evolution: dict | None
    fit_seconds: float
    stage_ms_per_sequence: dict[str, float] = field(default_factory=dict)
    """Wall time per sequence of each stage: features (parse + embed), route, small model, baseline."""


def _defined_f1(s: Scores) -> float | None:
    """F1, or ``None`` where it is undefined (no anomaly in the subset and none predicted)."""
    return None if s.tp + s.fp + s.fn == 0 else s.f1


def _subset_scores(y: np.ndarray, p: np.ndarray, mask: np.ndarray, seed: int) -> Scores:
    keep = mask & (y >= 0)
    return score(y[keep], p[keep], seed=seed)


@dataclass
class FastPath:
    """The fitted models of one seed."""

    small_model: SmallModel
    coordinator: Coordinator
    baseline: EventCountBaseline | None
    """``None`` unless the history's labels show both classes: a supervised baseline has nothing to learn."""
    fit_seconds: float


@dataclass
class TestPredictions:
    """Everything predicted for the test split; computed without reading a test label."""

    sm_verdict: np.ndarray
    losses: np.ndarray
    to_llm: np.ndarray
    baseline_verdict: np.ndarray | None
    seconds: dict[str, float]


def fit_fast_path(config: ExperimentConfig, data: Prepared, seed: int) -> FastPath:
    """Fit the small model (k on validation), the coordinator and the baseline on the history."""
    y = data.y
    t0 = time.perf_counter()
    sm = SmallModel(config.detector.small_model.model_copy(update={"seed": seed})).fit(
        data.train.vectors, y["train"], [s.id for s in data.dataset.splits.train], data.valid.vectors, y["valid"])
    coordinator = Coordinator(config.detector.coordinator.model_copy(update={"seed": seed})).fit(data.train.vectors, data.valid.vectors)
    fit_seconds = time.perf_counter() - t0
    baseline = None
    if len(np.unique(y["train"][y["train"] >= 0])) > 1:
        baseline = EventCountBaseline(config.baseline, seed).fit(data.train.templates, y["train"])
    return FastPath(sm, coordinator, baseline, fit_seconds)


def predict_test(models: FastPath, test: SequenceFeatures) -> TestPredictions:
    """Route and judge the test features. Takes features only: no label can reach it."""
    n = max(len(test.vectors), 1)
    t = time.perf_counter()
    sm_out = models.small_model.predict(test.vectors)
    t_sm = (time.perf_counter() - t) / n
    t = time.perf_counter()
    losses, routes = models.coordinator.route(test.vectors)
    t_route = (time.perf_counter() - t) / n
    t = time.perf_counter()
    base = None if models.baseline is None else models.baseline.predict(test.templates)
    t_base = (time.perf_counter() - t) / n
    return TestPredictions(sm_out.verdict, losses, np.array([r is Route.LLM for r in routes], dtype=bool), base,
                           {"small_model": t_sm, "route": t_route, "baseline": t_base})


def evaluate_seed(config: ExperimentConfig, data: Prepared, seed: int) -> SeedResult:
    """Fit the fast path under ``seed`` and score every system on the test split."""
    y = data.y
    labelled = y["test"] >= 0
    models = fit_fast_path(config, data, seed)
    sm, coordinator = models.small_model, models.coordinator
    pred = predict_test(models, data.test)
    # Scoring: the only place test labels are read.
    sm_verdict, losses, to_llm, base_pred = pred.sm_verdict, pred.losses, pred.to_llm, pred.baseline_verdict
    t_sm, t_route, t_base = pred.seconds["small_model"], pred.seconds["route"], pred.seconds["baseline"]
    fit_seconds = models.fit_seconds
    yt = y["test"]
    rows = [
        SystemRow("small model alone", _subset_scores(yt, sm_verdict, labelled, seed),
                  seconds_per_sequence=data.seconds_per_sequence + t_sm),
        SystemRow("coordinator + small model on both routes", _subset_scores(yt, sm_verdict, labelled, seed),
                  llm_share=float(to_llm.mean()) if len(to_llm) else 0.0,
                  per_route={Route.SMALL_MODEL.value: _subset_scores(yt, sm_verdict, ~to_llm, seed),
                             Route.LLM.value: _subset_scores(yt, sm_verdict, to_llm, seed)},
                  seconds_per_sequence=data.seconds_per_sequence + t_sm + t_route),
    ]
    if base_pred is not None:
        rows.append(SystemRow(f"baseline: event counts + {config.baseline.replace('_', ' ')}",
                              _subset_scores(yt, base_pred, labelled, seed),
                              seconds_per_sequence=data.seconds_per_sequence + t_base))
    tau_rows = []
    for q in config.quantiles:
        tau = float(np.quantile(coordinator.valid_losses_, q))
        routed = losses > tau
        tau_rows.append({
            "quantile": q, "tau": tau, "llm_share": float(routed.mean()),
            "sm_f1_routed": _defined_f1(_subset_scores(yt, sm_verdict, routed, seed)),
            "sm_f1_not_routed": _defined_f1(_subset_scores(yt, sm_verdict, ~routed, seed)),
            "anomalies_routed": int(((yt == 1) & routed).sum()),
        })
    k_rows = []
    for k in sorted(set(config.detector.small_model.k_candidates) | {sm.k_}):
        k_rows.append({
            "k": k,
            "valid_f1": _subset_scores(y["valid"], sm.predict(data.valid.vectors, k=k).verdict, y["valid"] >= 0, seed).f1,
            "test_f1": _subset_scores(yt, sm.predict(data.test.vectors, k=k).verdict, labelled, seed).f1,
        })
    evolution = None
    if data.changed is not None and data.original_test is not None:
        original = sm.predict(data.original_test.vectors).verdict
        changed = data.changed
        evolution = {
            "changed_sequences": int(changed.sum()),
            "changed_share": float(changed.mean()),
            "changed_routed_to_llm": float(to_llm[changed].mean()) if changed.any() else 0.0,
            "unchanged_routed_to_llm": float(to_llm[~changed].mean()) if (~changed).any() else 0.0,
            "sm_f1_original_test": _subset_scores(yt, original, labelled, seed).f1,
            "sm_f1_evolved_test": rows[0].scores.f1,
            "sm_f1_changed": _subset_scores(yt, sm_verdict, changed, seed).f1,
            "sm_f1_unchanged": _subset_scores(yt, sm_verdict, ~changed, seed).f1,
        }
    stages = {"features": data.seconds_per_sequence * 1e3, "route": t_route * 1e3, "small_model": t_sm * 1e3,
              "baseline": t_base * 1e3}
    return SeedResult(seed, sm.k_, coordinator.tau_, rows, tau_rows, k_rows, evolution, fit_seconds, stages)


@dataclass
class Report:
    name: str
    config: dict
    dataset: dict
    seeds: list[SeedResult]

    def to_dict(self) -> dict:
        return asdict(self)

    def tracked(self, images: tuple[Path, ...] = ()) -> TrackedRun:
        """The evaluation for an experiment tracker: each seed's rows, and their mean over seeds."""
        metrics: dict[str, float] = {}
        rows = []
        per_system: dict[str, list[float]] = {}
        for result in self.seeds:
            metrics[f"seed{result.seed}/tau"] = result.tau
            metrics[f"seed{result.seed}/k"] = float(result.k)
            for row in result.rows:
                s = row.scores
                metrics.update({f"seed{result.seed}/{row.system}/{k}": float(v) for k, v in
                                (("precision", s.precision), ("recall", s.recall), ("f1", s.f1))})
                per_system.setdefault(row.system, []).append(s.f1)
                rows.append((result.seed, row.system, s.precision, s.recall, s.f1, row.llm_share))
        metrics.update({f"{system}/f1": float(np.mean(f1s)) for system, f1s in per_system.items()})
        table = Table(("seed", "system", "precision", "recall", "f1", "llm_share"), tuple(rows))
        return TrackedRun(self.name, flatten("", self.config), metrics, {"results": table}, images)


def run_evaluation(config: ExperimentConfig, config_dir: Path | None = None, data_dir: Path | None = None) -> Report:
    data = prepare(config, config_dir, data_dir)
    splits = {name: {"sequences": int(len(y)), "anomalies": int((y == 1).sum())} for name, y in data.y.items()}
    results = [evaluate_seed(config, data, seed) for seed in config.seeds]
    return Report(config.name, config.model_dump(mode="json"), {"name": data.dataset.name, "splits": splits}, results)


def _opt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _fmt(s: Scores) -> str:
    return f"{s.f1:.3f} [{s.f1_low:.2f}, {s.f1_high:.2f}]"


def markdown(report: Report) -> str:
    """The report as Markdown tables (one block per seed)."""
    out = [f"# {report.name}", "", "Splits: " + ", ".join(
        f"{k} {v['sequences']:,} ({v['anomalies']} anomalous)" for k, v in report.dataset["splits"].items()), ""]
    for r in report.seeds:
        out += [f"## seed {r.seed} (k = {r.k}, tau = {r.tau:.3g}, fast path fit {r.fit_seconds:.1f} s)", "",
                "| system | P | R | F1 [95% CI] | anomalies | LLM share | F1 SM route | F1 LLM route | ms/seq |",
                "|---|---|---|---|---|---|---|---|---|"]
        for row in r.rows:
            sm_r = row.per_route.get(Route.SMALL_MODEL.value)
            llm_r = row.per_route.get(Route.LLM.value)
            out.append(
                f"| {row.system} | {row.scores.precision:.3f} | {row.scores.recall:.3f} | {_fmt(row.scores)} | "
                f"{row.scores.anomalies} | {'' if row.llm_share is None else f'{row.llm_share:.1%}'} | "
                f"{'' if sm_r is None else f'{sm_r.f1:.3f} ({sm_r.anomalies})'} | "
                f"{'' if llm_r is None else f'{llm_r.f1:.3f} ({llm_r.anomalies})'} | {row.seconds_per_sequence * 1e3:.3f} |")
        out += ["", "Stage wall time per sequence: " + ", ".join(f"{k} {v:.3f} ms" for k, v in r.stage_ms_per_sequence.items())]
        if r.evolution:
            out += ["", "Evolution: " + ", ".join(f"{k} = {v:.3f}" if isinstance(v, float) else f"{k} = {v}"
                                                  for k, v in r.evolution.items())]
        out += ["", "| tau quantile | LLM share | SM F1 routed | SM F1 not routed | anomalies routed |", "|---|---|---|---|---|"]
        out += [f"| {t['quantile']} | {t['llm_share']:.1%} | {_opt(t['sm_f1_routed'])} | {_opt(t['sm_f1_not_routed'])} | "
                f"{t['anomalies_routed']} |" for t in r.tau_sensitivity]
        out += ["", "| k | valid F1 | test F1 |", "|---|---|---|"]
        out += [f"| {k['k']} | {k['valid_f1']:.3f} | {k['test_f1']:.3f} |" for k in r.k_sensitivity]
        out.append("")
    return "\n".join(out)


def plot(report: Report, folder: Path) -> list[Path]:
    """tau and k sensitivity plots (first seed), like the paper's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = report.seeds[0]
    nan = float("nan")
    q = [t["quantile"] for t in r.tau_sensitivity]
    ks = [k["k"] for k in r.k_sensitivity]
    return [
        _line_plot(plt, folder / "tau_sensitivity.png", q, [
            ("share routed to the LLM", "o-", [t["llm_share"] for t in r.tau_sensitivity]),
            ("SM F1 on routed (gaps: no anomaly there)", "s--",
             [nan if t["sm_f1_routed"] is None else t["sm_f1_routed"] for t in r.tau_sensitivity]),
            ("SM F1 on not routed", "^--",
             [nan if t["sm_f1_not_routed"] is None else t["sm_f1_not_routed"] for t in r.tau_sensitivity]),
        ], "tau quantile of validation loss", f"{report.name}: coordinator threshold"),
        _line_plot(plt, folder / "k_sensitivity.png", ks, [
            ("validation F1", "o-", [k["valid_f1"] for k in r.k_sensitivity]),
            ("test F1", "s-", [k["test_f1"] for k in r.k_sensitivity]),
        ], "k (neighbours)", f"{report.name}: small model F1 against k"),
    ]


def _line_plot(plt, path: Path, xs: list, series: list[tuple[str, str, list]], xlabel: str, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, style, ys in series:
        ax.plot(xs, ys, style, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_texts(folder: Path, texts: dict[str, str]) -> list[Path]:
    """Write each named text into ``folder``, each file atomically (:func:`collaborlog.atomic.atomic_write_text`)."""
    for name, text in texts.items():
        atomic_write_text(folder / name, text)
    return [folder / name for name in texts]


def write_report(report: Report, folder: Path) -> list[Path]:
    """Write ``results.json``, ``results.md`` and the plots into ``folder``."""
    written = write_texts(folder, {"results.json": json.dumps(report.to_dict(), indent=2), "results.md": markdown(report)})
    return written + plot(report, folder)
