"""``collaborlog report``: one self-contained HTML page from a run's results or a detections file.

The page holds everything inline (CSS, plots as base64 data URIs), needs no JavaScript and names
no external URL, so it can be mailed or attached to a ticket as it is. Every text that came from
a log or an LLM is escaped with :func:`html.escape`: a log line is data, never markup.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from collaborlog.atomic import atomic_write_text
from collaborlog.errors import CollaborLogError

MAX_LINES_SHOWN = 40
"""Lines shown per explained detection: a window of thousands would bury the rest of the page."""
MAX_DETECTIONS_SHOWN = 500
"""Anomalous sequences explained, highest score first: past a few hundred nobody reads on, and the page stays small."""
MIN_QUOTE_CHARS = 6
"""A quoted fragment shorter than this ('OK', '0') would highlight lines by accident."""

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;color:#1d232a;
 padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;
 text-align:left;vertical-align:top}th{background:#f3f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}.card{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .8rem;
 min-width:8rem}.card strong{display:block;font-size:1.3rem}
.det{border:1px solid #d0d7de;border-left:4px solid #cf222e;border-radius:6px;padding:.5rem .8rem;margin:.8rem 0}
.reason{margin:.3rem 0 .5rem}pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;font-size:.8rem;margin:0}
pre span{display:block}pre span.hit{background:#fff8c5;outline:1px solid #d4a72c}.muted{color:#57606a}
pre span.blame{background:#ffebe9;outline:1px solid #cf222e}table.blame td{font-size:.8rem}
img{max-width:100%;border:1px solid #d0d7de}
"""


@dataclass(frozen=True)
class BlamedLine:
    """A line a detection names as responsible (``Detection.blame`` as ``detect`` writes it)."""

    position: int
    file: str | None
    line: int | None
    text: str
    score: float
    reasons: tuple[str, ...]

    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.file and self.line else f"line {self.position + 1} of the sequence"


@dataclass(frozen=True)
class ExplainedDetection:
    """One judged sequence as the report shows it."""

    sequence: str
    verdict: int
    branch: str
    route: str
    reason: str = ""
    score: float | None = None
    label: int | None = None
    lines: tuple[str, ...] = ()
    blame: tuple[BlamedLine, ...] = ()


@dataclass
class ReportData:
    """What a report shows, read from a results folder or a detections file."""

    title: str
    source: Path
    detections: list[ExplainedDetection]
    results: dict = field(default_factory=dict)
    """``results.json`` of a ``collaborlog run`` folder (empty for a detections file)."""
    plots: list[Path] = field(default_factory=list)


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise CollaborLogError(f"cannot read {path}: {err.strerror or err}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise CollaborLogError(f"{path} line {number} is not JSON; give a detections file written by "
                                   "'collaborlog detect --out' or a folder written by 'collaborlog run'") from None
        if not isinstance(row, dict):
            raise CollaborLogError(f"{path} line {number} is not a JSON object (a detection)")
        rows.append(row)
    return rows


def _blame(row: dict, where: str) -> tuple[BlamedLine, ...]:
    """The blamed lines of a row: ``blame`` (``detect --out``) or the records in ``lines`` (``--format jsonl``)."""
    entries = row.get("blame") or [e for e in (row.get("lines") or []) if isinstance(e, dict)]
    try:
        return tuple(BlamedLine(int(e.get("position", 0)), e.get("file"), e.get("line_number", e.get("line")),
                                str(e.get("text", "")), float(e.get("score", 0.0)),
                                tuple(str(r) for r in e.get("reasons", ()))) for e in entries)
    except (AttributeError, TypeError, ValueError):
        raise CollaborLogError(f"{where} holds a blamed line that is not a record of position, file, line, text, "
                               "score and reasons; give a detections file written by 'collaborlog detect'") from None


def _detection(row: dict, lines: dict[str, list[str]], where: str) -> ExplainedDetection:
    # `detect --out` names the sequence `sequence_id`; a `run` folder's detections.jsonl names it `sequence`.
    sequence = row.get("sequence_id", row.get("sequence"))
    if sequence is None or "verdict" not in row:
        raise CollaborLogError(f"{where} holds a row without a sequence id and a verdict ({sorted(row)[:8]}); "
                               "give a detections file written by 'collaborlog detect --out' or 'collaborlog run'")
    label = row.get("label")
    return ExplainedDetection(
        sequence=str(sequence), verdict=int(row["verdict"]), branch=str(row.get("branch", "")),
        route=str(row.get("route", "")), reason=str(row.get("reason") or ""),
        score=float(row["score"]) if row.get("score") is not None else None,
        label=int(label) if label is not None else None,
        lines=tuple(str(x) for x in ([e for e in row.get("lines") or () if not isinstance(e, dict)]
                                     or lines.get(str(sequence)) or ())),
        blame=_blame(row, where))


def load_report(path: Path, lines: dict[str, list[str]] | None = None) -> ReportData:
    """Read a ``collaborlog run`` folder or a detections JSON Lines file.

    ``lines`` maps sequence ids to their log lines, for detections that do not carry them.
    """
    path = Path(path)
    lines = dict(lines or {})
    if path.is_dir():
        results_file, detections_file = path / "results.json", path / "detections.jsonl"
        if not results_file.is_file() and not detections_file.is_file():
            raise CollaborLogError(f"{path} holds neither results.json nor detections.jsonl; give a folder written "
                                   "by 'collaborlog run' or a detections file written by 'collaborlog detect --out'")
        results: dict = {}
        if results_file.is_file():
            try:
                results = json.loads(results_file.read_text(encoding="utf-8"))
            except ValueError as err:
                raise CollaborLogError(f"{results_file} is not valid JSON ({err}); run 'collaborlog run' again") from None
        # The explained examples carry their (masked) lines: use them where the detection has none.
        for example in results.get("examples", []):
            lines.setdefault(str(example.get("sequence")), list(example.get("lines", [])))
        rows = _read_jsonl(detections_file) if detections_file.is_file() else []
        return ReportData(title=str(results.get("name") or path.name), source=path,
                          detections=[_detection(r, lines, str(detections_file)) for r in rows], results=results,
                          plots=sorted(path.glob("*.png")))
    if not path.is_file():
        raise CollaborLogError(f"{path} does not exist; give a results folder or a detections .jsonl file")
    rows = _read_jsonl(path)
    return ReportData(title=path.stem, source=path, detections=[_detection(r, lines, str(path)) for r in rows])


def _quoted(reason: str) -> list[str]:
    """Fragments the reason quotes ("...", '...', `...`, “...”), long enough to mean a log line."""
    found = re.findall(r'"([^"]+)"|`([^`]+)`|“([^”]+)”|(?<![A-Za-z])\'([^\']+)\'(?![A-Za-z])', reason)
    return [q.strip() for groups in found for q in groups if len(q.strip()) >= MIN_QUOTE_CHARS]


def quoted_lines(reason: str, lines: tuple[str, ...] | list[str]) -> set[int]:
    """Positions of the lines the reason quotes: a quoted fragment lies in the line, or the whole line is in the reason."""
    quotes = _quoted(reason)
    hits = set()
    for k, line in enumerate(lines):
        text = line.strip()
        if any(q in text for q in quotes) or (len(text) >= MIN_QUOTE_CHARS and text in reason):
            hits.add(k)
    return hits


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _e(value: object) -> str:
    """``value`` as HTML text; control bytes a log may hold (NUL, escape codes) are shown as ``\\xNN``."""
    return html.escape(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value)), quote=True)


def _table(headers: list[str], rows: list[list[object]], numeric: frozenset[int] | set[int] = frozenset(), cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{_e(c)}</td>' if j in numeric else f"<td>{_e(c)}</td>"
                                    for j, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fmt(value: object, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _summary(data: ReportData) -> str:
    dets = data.detections
    anomalous = sum(1 for d in dets if d.verdict == 1)
    cards = [("sequences", f"{len(dets):,}"), ("anomalous", f"{anomalous:,}")]
    res = data.results
    if res.get("test_sequences") is not None and not dets:
        cards[0] = ("sequences", f"{res['test_sequences']:,}")
    if res.get("test_anomalies") is not None:
        cards.append(("labelled anomalies", f"{res['test_anomalies']:,}"))
    systems = res.get("systems", [])
    collab = next((s for s in systems if "with AEM" in str(s.get("system", ""))), systems[-1] if systems else None)
    if collab is not None:
        cards += [("LLM calls", f"{collab.get('llm_calls', 0):,}"), ("LLM tokens", f"{collab.get('tokens', 0):,}")]
    parts = ['<div class="cards">' + "".join(f'<div class="card"><strong>{_e(v)}</strong>{_e(k)}</div>' for k, v in cards)
             + "</div>"]
    routes, branches = Counter(d.route or "-" for d in dets), Counter(d.branch or "-" for d in dets)
    if dets:
        parts.append("<h3>Routes</h3>" + _table(["route", "sequences", "anomalous"], [
            [r, n, sum(1 for d in dets if (d.route or "-") == r and d.verdict == 1)] for r, n in routes.most_common()],
            numeric={1, 2}, cls="routes"))
        parts.append("<h3>Branches</h3>" + _table(["branch", "sequences", "anomalous"], [
            [b, n, sum(1 for d in dets if (d.branch or "-") == b and d.verdict == 1)] for b, n in branches.most_common()],
            numeric={1, 2}, cls="branches"))
    return "<h2>Summary</h2>" + "".join(parts)


def _results(res: dict) -> str:
    if not res:
        return ""
    out = ["<h2>Results</h2>"]
    rows = []
    for s in res.get("systems", []) + res.get("on_sample", []) + res.get("on_changed", []):
        sc = s.get("scores", {})
        rows.append([s.get("system", ""), _fmt(sc.get("precision")), _fmt(sc.get("recall")),
                     f"{_fmt(sc.get('f1'))} [{_fmt(sc.get('f1_low'), '.2f')}, {_fmt(sc.get('f1_high'), '.2f')}]",
                     sc.get("anomalies", "-"), _fmt(s.get("llm_share"), ".1%"),
                     f"{s.get('llm_calls', 0)} (+{s.get('cached_answers', 0)})", f"{s.get('tokens', 0):,}",
                     _fmt(s.get("seconds_per_sequence"), ".3f")])
    if rows:
        out.append(_table(["system", "P", "R", "F1 [95% CI]", "anomalies", "LLM share", "LLM calls (+cached)",
                           "tokens", "s/seq"], rows, numeric=set(range(1, 9)), cls="systems"))
    if res.get("branches"):
        out.append("<h3>Evol-CoT branches (CollaborLog with AEM)</h3>" + _table(
            ["branch", "share", "sequences", "anomalies", "F1"],
            [[b.get("branch"), _fmt(b.get("share"), ".1%"), b.get("sequences"), b.get("anomalies"), _fmt(b.get("f1"))]
             for b in res["branches"]], numeric={1, 2, 3, 4}, cls="evol"))
    notes = []
    if res.get("llm_share_by_third"):
        notes.append("LLM share with AEM by third of the stream: "
                     + " / ".join(_fmt(v, ".1%") for v in res["llm_share_by_third"]))
    if res.get("token_reduction_vs_llm_alone") is not None:
        notes.append(f"Tokens per sequence vs LLM alone: {res['token_reduction_vs_llm_alone']:.1%} fewer")
    out += [f"<p>{_e(n)}</p>" for n in notes]
    return "".join(out)


def _plots(paths: list[Path]) -> str:
    if not paths:
        return ""
    images = []
    for p in paths:
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        images.append(f'<figure><img alt="{_e(p.stem)}" src="data:image/png;base64,{data}">'
                      f"<figcaption>{_e(p.name)}</figcaption></figure>")
    return "<h2>Plots</h2>" + "".join(images)


def _new_messages(res: dict) -> str:
    messages = res.get("new_messages") or []
    if not messages:
        return ""
    rows = [[m.get("message", ""), m.get("level", ""), m.get("rewords") or "a new event",
             "yes" if m.get("problem") else "no", m.get("reason", "")] for m in messages]
    return ("<h2>New messages</h2><p>What the LLM said of each new message, once.</p>"
            + _table(["message", "level", "reads as", "problem", "reason"], rows, cls="new-messages"))


def _explained(dets: list[ExplainedDetection]) -> str:
    anomalous = sorted((d for d in dets if d.verdict == 1), key=lambda d: (-(d.score or 0.0), d.sequence))
    shown = anomalous[:MAX_DETECTIONS_SHOWN]
    cut = f" (the {len(shown):,} highest-scored shown)" if len(shown) < len(anomalous) else ""
    out = [f"<h2>Explained detections</h2><p>{len(anomalous):,} anomalous sequence(s){cut}; the lines most "
           "responsible are listed with where they were read and highlighted in red, lines the reason quotes in "
           "yellow.</p>"]
    for d in shown:
        facts = [f"branch {d.branch or '-'}", f"route {d.route or '-'}"]
        if d.score is not None:
            facts.append(f"score {d.score:.3f}")
        if d.label is not None:
            facts.append(f"label {d.label}")
        body = [f'<div class="det"><h3>{_e(d.sequence)}</h3><div class="muted">{_e(", ".join(facts))}</div>',
                f'<p class="reason">{_e(d.reason) if d.reason else "<i>no reason given (small-model verdict)</i>"}</p>']
        if d.blame:
            body.append("<h4>Most responsible lines</h4>" + _table(
                ["where", "line", "score", "why"],
                [[b.where(), b.text, f"{b.score:.2f}", ", ".join(b.reasons)] for b in d.blame], numeric={2},
                cls="blame"))
        if d.lines:
            hits = quoted_lines(d.reason, d.lines)
            blamed = {b.position for b in d.blame}
            first = d.lines[:MAX_LINES_SHOWN]
            body.append("<pre>" + "".join(
                f'<span class="blame">{_e(line)}</span>' if k in blamed else
                f'<span class="hit">{_e(line)}</span>' if k in hits else
                f"<span>{_e(line)}</span>" for k, line in enumerate(first)) + "</pre>")
            if len(d.lines) > len(first):
                body.append(f'<p class="muted">… and {len(d.lines) - len(first):,} more line(s)</p>')
        elif not d.blame:
            body.append('<p class="muted">lines not recorded with this detection (give --dataset to show them)</p>')
        out.append("".join(body) + "</div>")
    return "".join(out)


def render(data: ReportData) -> str:
    """The report as one HTML document: inline CSS, embedded images, no script, no external URL."""
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>CollaborLog report: {_e(data.title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>CollaborLog report: {_e(data.title)}</h1><p class=\"muted\">from {_e(data.source)}</p>"
            + _summary(data) + _results(data.results) + _plots(data.plots) + _new_messages(data.results)
            + _explained(data.detections) + "</body></html>\n")


def write_report(path: Path, out: Path, lines: dict[str, list[str]] | None = None) -> ReportData:
    """Render the report of ``path`` to ``out``; returns what it showed."""
    data = load_report(path, lines)
    out = Path(out)
    if out.is_dir():
        raise CollaborLogError(f"--out {out} is a folder: give a file name such as {out / 'report.html'}")
    atomic_write_text(out, render(data))
    return data
