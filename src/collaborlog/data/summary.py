"""What a dataset holds: lines, skips, sequences, anomalies, templates and split sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from collaborlog.data.dataset import Dataset
from collaborlog.parsing.templates import TemplateMiner
from collaborlog.records import ANOMALOUS, UNLABELLED, StreamDamage


@dataclass(frozen=True)
class SplitSummary:
    sequences: int
    anomalous: int
    unlabelled: int


@dataclass(frozen=True)
class DatasetSummary:
    name: str
    lines: int
    unmatched_lines: int
    undecodable_lines: int
    oversized_lines: int
    blank_lines: int
    bad_timestamps: int
    nul_lines: int
    truncated: bool
    ungrouped_lines: int
    unknown_label_sessions: int
    sequences: int
    anomalous_sequences: int
    unlabelled_sequences: int
    distinct_messages: int
    templates: int
    splits: dict[str, SplitSummary] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    damage: StreamDamage | None = None
    """Where the log's compressed stream broke (or stray bytes followed it), and what that cost."""
    label_damage: StreamDamage | None = None
    """The same for the session label file."""

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(dataset: Dataset) -> DatasetSummary:
    """Count everything a user should know about ``dataset`` (mines its templates to do so)."""
    miner = TemplateMiner(dataset.config.parser)
    parsed = miner.parse(dataset.log.content)
    stats = dataset.log.stats
    seqs = dataset.splits.all()
    splits = {
        name: SplitSummary(
            sequences=len(part),
            anomalous=sum(1 for s in part if s.label == ANOMALOUS),
            unlabelled=sum(1 for s in part if s.label == UNLABELLED),
        )
        for name, part in dataset.splits.items()
    }
    warnings = stats.warnings()
    if dataset.group_stats.ungrouped_lines:
        warnings.append(f"{dataset.group_stats.ungrouped_lines} line(s) carry no session key and are in no sequence")
    if dataset.label_stats.damage is not None:
        warnings.append("label file: " + dataset.label_stats.damage.describe("complete rows"))
    if dataset.label_stats.unknown_sessions:
        warnings.append(f"the label file names {dataset.label_stats.unknown_sessions} session(s) absent from the log (skipped)")
    if dataset.label_stats.unlabelled_sequences:
        warnings.append(f"{dataset.label_stats.unlabelled_sequences} sequence(s) have no label and are left out of metrics")
    return DatasetSummary(
        name=dataset.name,
        lines=stats.lines,
        unmatched_lines=stats.unmatched,
        undecodable_lines=stats.undecodable,
        oversized_lines=stats.oversized,
        blank_lines=stats.blank,
        bad_timestamps=stats.bad_timestamps,
        nul_lines=stats.nul_lines,
        truncated=stats.truncated,
        ungrouped_lines=dataset.group_stats.ungrouped_lines,
        unknown_label_sessions=dataset.label_stats.unknown_sessions,
        sequences=len(seqs),
        anomalous_sequences=sum(1 for s in seqs if s.label == ANOMALOUS),
        unlabelled_sequences=dataset.label_stats.unlabelled_sequences,
        distinct_messages=len(parsed.messages),
        templates=len(miner.templates),
        splits=splits,
        warnings=warnings,
        damage=stats.damage,
        label_damage=dataset.label_stats.damage,
    )
