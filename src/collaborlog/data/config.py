"""Typed configuration of a dataset: where the log is, how to read, group, label and split it.

Every default lives here. Unknown keys are an error that names the key and the valid ones.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from collaborlog.errors import ConfigError

# The directives strptime (and so pandas) accepts, after the '%'.
_STRPTIME_DIRECTIVES = set("aAbBcdfGHIjmMpSuUVwWxXyYzZ%")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimestampSpec(_Strict):
    """How to build a timestamp from one or more fields.

    ``format`` is a ``strftime`` pattern applied to the fields joined by a space, ``"unix"`` for
    epoch seconds, or ``"auto"`` to let pandas infer it.
    """

    fields: tuple[str, ...]
    format: str = "auto"

    @field_validator("format")
    @classmethod
    def _known_directives(cls, v: str) -> str:
        # pandas rejects an unknown directive only when it first parses, deep in a read; say so here.
        bad = [d for d in re.findall(r"%(.?)", v) if d not in _STRPTIME_DIRECTIVES]
        if bad and v not in ("auto", "unix"):
            raise ValueError(f"format {v!r} has the unknown directive(s) {['%' + d for d in bad]}; use strftime "
                             "directives such as %Y-%m-%d %H:%M:%S (write %% for a literal %), 'auto' or 'unix'")
        return v


class SourceConfig(_Strict):
    """One input file and how to read it."""

    path: str
    more_paths: tuple[str, ...] = ()
    """Files that continue the log, read after ``path`` in this order (rotated files; what
    ``collaborlog detect --log a --log b`` reads); each line keeps its own file and line number."""
    kind: Literal["text", "csv", "parquet", "jsonl", "logevol"] = "text"
    log_format: str | None = None
    """loghub-style format string for ``text`` sources, e.g. ``<Date> <Time> <Level>: <Content>``."""
    content: str = "Content"
    """The field (format-string header or column) that holds the message."""
    timestamp: TimestampSpec | None = None
    encoding: str = "utf-8"
    max_line_chars: int = Field(default=65_536, gt=0)
    """Longer lines are cut to this length (and counted) so one runaway line cannot exhaust memory."""
    system: str | None = None
    """``logevol`` sources: which system and version folder to read, e.g. ``spark2``."""
    allow_pickle: bool = False
    """``logevol`` sources: allow reading the published ``.pkl`` files (unpickling can run code)."""

    @field_validator("encoding")
    @classmethod
    def _text_encoding(cls, v: str) -> str:
        try:
            # Lines are decoded with errors="replace"; a codec that cannot do that (idna) or is no text codec fails here.
            b"\xff\n".decode(v, errors="replace")
        except (LookupError, UnicodeError):
            raise ValueError(f"{v!r} is not a text encoding Python knows; use e.g. 'utf-8' or 'latin-1'") from None
        return v

    @model_validator(mode="after")
    def _text_needs_format(self) -> "SourceConfig":
        if self.kind == "text" and not self.log_format:
            raise ValueError("a 'text' source needs log_format, e.g. '<Date> <Time> <Level> <Component>: <Content>'")
        if self.kind == "logevol" and self.more_paths:
            raise ValueError("a 'logevol' source is one folder of versions: more_paths is for log files")
        if self.kind == "logevol" and not self.system:
            raise ValueError("a 'logevol' source needs system, one of spark2, spark3, hadoop2, hadoop3")
        if self.kind == "text" and self.log_format and f"<{self.content}>" not in self.log_format:
            raise ValueError(f"log_format must contain the content field <{self.content}>; it was {self.log_format!r}")
        return self


class SessionGrouping(_Strict):
    """One sequence per session key: a field's value, or every distinct match of a regex in the content."""

    kind: Literal["session"] = "session"
    field: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _one_key(self) -> "SessionGrouping":
        if (self.field is None) == (self.regex is None):
            raise ValueError("session grouping needs exactly one of 'field' or 'regex'")
        return self


class CountGrouping(_Strict):
    """Windows of ``size`` consecutive lines, a new one every ``step`` lines."""

    kind: Literal["count"] = "count"
    size: int = Field(default=10, gt=0)
    step: int = Field(default=10, gt=0)


class TimeGrouping(_Strict):
    """Windows of ``seconds`` of log time, a new one every ``step`` seconds."""

    kind: Literal["time"] = "time"
    seconds: float = Field(default=3600.0, gt=0)
    step: float = Field(default=3600.0, gt=0)


Grouping = Annotated[Union[SessionGrouping, CountGrouping, TimeGrouping], Field(discriminator="kind")]


class NoLabels(_Strict):
    kind: Literal["none"] = "none"


class LineLabels(_Strict):
    """A per-line label read from a field.

    A line is normal when its value is in ``normal_values`` (BGL: ``["-"]``); otherwise, if
    ``anomalous_values`` is given, anomalous only when its value is listed there.
    """

    kind: Literal["line"] = "line"
    field: str
    normal_values: tuple[str, ...] = ("0", "-", "false", "False", "normal", "Normal")
    anomalous_values: tuple[str, ...] | None = None


class SessionLabels(_Strict):
    """A label file (CSV) mapping session id to 0/1 (or true/false)."""

    kind: Literal["session_file"] = "session_file"
    path: str
    id_column: str = "BlockId"
    label_column: str = "Label"


Labels = Annotated[Union[NoLabels, LineLabels, SessionLabels], Field(discriminator="kind")]


class SplitConfig(_Strict):
    """Train/validation/test split of the sequences.

    ``chronological`` orders sequences by their first timestamp (windows are cut inside each
    part, so none straddles a boundary); ``random`` shuffles whole sequences under ``seed``;
    ``predefined`` keeps the split a source ships with (LOGEVOL's train/valid/test files).
    ``gap`` follows the CoorLog paper's LogHub protocol: the first ``period`` of the log's lines
    (in time order) is split by ``ratios`` at random under ``seed``; so is the part of the log
    that starts ``days`` after that period ends, whose test part is the ``later`` split (log
    patterns drift over the gap). What falls inside the gap is left out. A test ratio of 0 makes
    a history for fitting only (``collaborlog fit`` reads train and validation): all of it is
    fitted on, and commands that score a test split refuse it.
    """

    kind: Literal["chronological", "random", "predefined", "gap"] = "chronological"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    days: float | None = Field(default=None, gt=0)
    period: float = Field(default=0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _gap_has_days(self) -> "SplitConfig":
        if (self.kind == "gap") != (self.days is not None):
            raise ValueError("split.days is required with kind: gap, and only then "
                             f"(kind: {self.kind}, days: {self.days})")
        return self

    @field_validator("ratios")
    @classmethod
    def _ratios_sum_to_one(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(r < 0 for r in v) or abs(sum(v) - 1.0) > 1e-6 or v[0] <= 0:
            raise ValueError(f"ratios must be three non-negative numbers summing to 1 with train > 0; it was {v}")
        return v


class MaskRule(_Strict):
    regex: str
    mask: str


class ParserConfig(_Strict):
    """Masking and Drain template mining.

    ``masking`` names a preset of :mod:`collaborlog.parsing.masking`; ``extra_masks`` are applied first.
    """

    masking: str = "default"
    extra_masks: tuple[MaskRule, ...] = ()
    depth: int = Field(default=4, ge=3)
    sim_th: float = Field(default=0.4, gt=0, le=1)
    max_children: int = Field(default=100, gt=0)


class DatasetConfig(_Strict):
    """One dataset: source, grouping, labels, split and parser."""

    name: str
    description: str = ""
    source: SourceConfig
    grouping: Grouping = Field(default_factory=CountGrouping)
    labels: Labels = Field(default_factory=NoLabels)
    split: SplitConfig = Field(default_factory=SplitConfig)
    parser: ParserConfig = Field(default_factory=ParserConfig)
    expected_files: tuple[str, ...] = ()
    """Extra files (relative to the data directory) to name when the dataset is missing."""


def _explain(err: ValidationError, where: str) -> ConfigError:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"unknown key '{loc}'")
        else:
            lines.append(f"{loc or '(top level)'}: {e['msg']}")
    return ConfigError(f"invalid configuration in {where}:\n  " + "\n  ".join(lines))


def parse_model(model: type[BaseModel], data: Any, where: str) -> Any:
    """Validate ``data`` against ``model``; unknown keys name the valid ones."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping of keys to values, not {type(data).__name__}")
    unknown = set(data) - set(model.model_fields)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {sorted(unknown)} in {where}; valid keys are {sorted(model.model_fields)}"
        )
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise _explain(err, where) from None


def load_yaml(path: Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text (byte {err.start} is {err.object[err.start:err.start + 1]!r}); "
                          "save it as UTF-8") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None


def load_dataset_config(path: Path) -> DatasetConfig:
    """Read a dataset configuration from a YAML file."""
    return parse_model(DatasetConfig, load_yaml(path), str(path))
