"""The ``collaborlog`` command line. Errors become a message and exit code 2 here, and only here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from collaborlog.errors import CollaborLogError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Log anomaly detection that survives upgrades.")
console = Console()
DATA_DIR_HELP = "Folder holding the datasets (default: $COLLABORLOG_DATA_DIR, else shared/data beside the checkout)."


def _base(data_dir: Optional[Path], config_dir: Optional[Path]) -> Optional[Path]:
    from collaborlog.dataset import find_data_dir

    if data_dir is None and config_dir is not None:
        return config_dir
    return find_data_dir(data_dir)


@app.command()
def summary(
    dataset: str = typer.Argument(..., help="A preset name (see 'collaborlog presets') or a dataset YAML file."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Read a dataset and print its lines, skips, sequences, anomalies, templates and splits."""
    from collaborlog.dataset import load_dataset, resolve_config
    from collaborlog.summary import summarize

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
        console.print(f"[yellow]warning:[/] {warning}")


@app.command()
def presets() -> None:
    """List the dataset presets."""
    from collaborlog.dataset import preset_config, preset_names

    for name in preset_names():
        console.print(f"[bold]{name}[/]: {' '.join(preset_config(name).description.split())}")


@app.command("convert-logevol")
def convert_logevol(
    root: Path = typer.Argument(..., help="The Logevol folder holding spark2/, spark3/, hadoop2/, hadoop3/."),
    allow_pickle: bool = typer.Option(False, "--allow-pickle", help="Confirm that you trust these pickle files."),
) -> None:
    """Convert LOGEVOL's session_*.pkl files to JSON Lines once, so later reads never unpickle."""
    from collaborlog.logevol import convert

    if not allow_pickle:
        raise CollaborLogError("unpickling can run code: pass --allow-pickle to confirm you trust these files")
    for path in convert(root):
        console.print(f"wrote {path}")


def main() -> None:
    try:
        app()
    except CollaborLogError as err:
        Console(stderr=True).print(f"[red]error:[/] {err}", markup=True, highlight=False)
        sys.exit(2)
