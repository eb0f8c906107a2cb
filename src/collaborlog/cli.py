"""The ``collaborlog`` command line. Errors become a message and exit code 2 here, and only here."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from collaborlog.errors import CollaborLogError
from collaborlog.llm.omp_wait import prefer_passive_wait

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
    from collaborlog.ops.feedback import configure_logging

    configure_logging(verbose, err_console)
DATA_DIR_HELP = "Folder holding the datasets (default: $COLLABORLOG_DATA_DIR, else shared/data beside the checkout)."


def _base(data_dir: Optional[Path], config_dir: Optional[Path]) -> Optional[Path]:
    from collaborlog.data.dataset import find_data_dir

    if data_dir is None and config_dir is not None:
        return config_dir
    return find_data_dir(data_dir)


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


@app.command()
def run(
    config: Path = typer.Argument(..., help="An experiment YAML file (see configs/)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    output: Optional[Path] = typer.Option(None, "--output", help="Results folder (default: the config's output, else results/<name>)."),
    save_model: Optional[Path] = typer.Option(None, "--save-model", help="Also save the detector (after the AEM stream) here."),
) -> None:
    """Run one experiment end to end: SM alone, LLM alone (sample), CollaborLog without and with the AEM."""
    from collaborlog.detector.persistence import save
    from collaborlog.experiments.config import load_experiment
    from collaborlog.experiments.run import markdown, run_experiment, write_run

    cfg, config_dir = load_experiment(config)
    report, detector = run_experiment(cfg, config_dir, data_dir)
    folder = output or Path(cfg.output or f"results/{cfg.name}")
    written = write_run(report, folder)
    print(markdown(report))
    if save_model is not None:
        written.append(save(detector, save_model))
    console.print("wrote " + ", ".join(str(p) for p in written), markup=False)


@app.command()
def fit(
    dataset: str = typer.Argument(..., help="A preset name or a dataset YAML file (its train and valid splits are used)."),
    out: Path = typer.Option(..., "--out", help="Directory to save the detector into."),
    config: Optional[Path] = typer.Option(None, "--config", help="An experiment YAML whose model and LLM settings to use."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars and no summary lines."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary object on stdout at the end (for scripts)."),
) -> None:
    """Fit a detector on a dataset's history and save it."""
    from collaborlog.data.dataset import load_dataset, resolve_config
    from collaborlog.detector.facade import CollaborLog
    from collaborlog.detector.persistence import save
    from collaborlog.experiments.config import ExperimentConfig, detector_config, load_experiment
    from collaborlog.features.embeddings import default_cache_dir
    from collaborlog.ops.feedback import progress_bars

    ds_cfg, config_dir = resolve_config(dataset)
    exp = load_experiment(config)[0] if config else ExperimentConfig(name=ds_cfg.name, dataset=dataset)
    with progress_bars(err_console, not quiet):
        ds = load_dataset(ds_cfg, _base(data_dir, config_dir))
        detector = CollaborLog(detector_config(exp, exp.seeds[0], ds_cfg.parser), cache_dir=default_cache_dir()).fit(
            ds.log, ds.splits.train, ds.splits.valid)
        save(detector, out)
    if as_json:
        print(json.dumps({"model": str(out), "dataset": ds.name, "mode": detector.mode_.value,
                          "mode_reason": detector.mode_reason_, "lines": len(ds.log),
                          "train_sequences": len(ds.splits.train), "valid_sequences": len(ds.splits.valid),
                          "k": int(detector.small_model_.k_), "tau": float(detector.coordinator_.tau_)}))
        return
    if quiet:
        return
    console.print(f"mode: {detector.mode_reason_}", markup=False)
    console.print(f"fitted on {len(ds.splits.train):,} sequences (k = {detector.small_model_.k_}, "
                  f"tau = {detector.coordinator_.tau_:.3g}); saved to {out}")


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
) -> None:
    """Judge a log with a saved detector; print the anomalous sequences and why."""
    from dataclasses import asdict

    from collaborlog.data.dataset import load_dataset, resolve_config
    from collaborlog.detector.persistence import load, save
    from collaborlog.features.embeddings import default_cache_dir
    from collaborlog.ops.feedback import progress_bars
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
    ds_cfg, config_dir = resolve_config(dataset)
    if engine == "ray":
        from collaborlog.scale.cli import detect_on_cluster

        detect_on_cluster(detector, model, ds_cfg, _base(data_dir, config_dir), inputs, split, out, learn,
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
        if learn:
            # A checkpoint after each batch that taught the models: a crash loses at most one batch.
            stream = detector.detect_stream(ds.log, sequences, on_learned=lambda _: save(detector, model))
            detections = [d for batch in stream for d in batch]
            save(detector, model)
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
        return
    if quiet:
        for d in ranked:
            print(d.sequence_id)
        return
    console.print(routing.describe())
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

    from collaborlog.data.dataset import load_dataset, resolve_config
    from collaborlog.data.logevol import write_sessions_jsonl
    from collaborlog.experiments.simulator import EvolutionConfig
    from collaborlog.experiments.simulator import evolve as simulate

    cfg, config_dir = resolve_config(dataset)
    ds = load_dataset(cfg, _base(data_dir, config_dir))
    evo_cfg = EvolutionConfig(seed=seed, template_ratio=template_ratio, sequence_ratio=sequence_ratio,
                              formats=formats, upgrade=upgrade)
    result = simulate(ds.log, ds.splits.test, evo_cfg, cfg.parser)
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
) -> None:
    """Serve a saved detector over HTTP: POST /v1/detect, GET /v1/health, GET /metrics (needs the 'serve' extra)."""
    from collaborlog.server import serve as run_server

    run_server(model, host=host, port=port, llm=llm, token=token)


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
) -> None:
    """Render one self-contained HTML report: summary, results tables, plots, new messages, explained detections."""
    from collaborlog.experiments.report import write_report

    lines = None
    if dataset is not None:
        from collaborlog.data.dataset import load_dataset, resolve_config

        cfg, config_dir = resolve_config(dataset)
        ds = load_dataset(cfg, _base(data_dir, config_dir))
        lines = {s.id: [ds.log.content[int(i)] for i in s.lines] for s in ds.splits.all()}
    data = write_report(path, out, lines)
    anomalous = sum(1 for d in data.detections if d.verdict == 1)
    console.print(f"wrote {out}: {len(data.detections):,} sequences, {anomalous:,} anomalous, "
                  f"{len(data.plots)} plot(s)", markup=False)


models_app = typer.Typer(no_args_is_help=True, help="Saved detectors: check them.")
app.add_typer(models_app, name="models")


@models_app.command("verify")
def models_verify(model: Path = typer.Argument(..., help="A detector directory written by 'collaborlog fit'.")) -> None:
    """Check every file of a saved detector against its sealed manifest; print each sha256 (exit 2 if damaged)."""
    from collaborlog.detector.persistence import verify

    for name, digest in verify(model).items():
        print(f"{digest}  {name}")
    Console(stderr=True).print(f"{model}: intact", markup=False, highlight=False)


def main() -> None:
    # Before torch or llama.cpp loads libgomp, which reads the policy once (see omp_wait).
    prefer_passive_wait()
    try:
        app()
    except CollaborLogError as err:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {escape(str(err))}", markup=True, highlight=False)
        sys.exit(2)
