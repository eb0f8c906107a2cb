"""Fuzz the readers: malformed inputs through ``load_dataset`` + ``summarize``, each under a time limit.

    python benchmarks/fuzz.py [--n 10000] [--seed 0] [--timeout 5] [--workers 2]

Generates ``--n`` malformed inputs (the same ones for the same seed) across nine areas: text
lines under loghub format strings, raw bytes, damaged gzip, CSV logs, JSON Lines logs, parquet,
session label files, dataset configs and LOGEVOL session rows. Each input runs in a worker
process that is killed when it overruns ``--timeout`` seconds (a hang). Prints, per area and in
total: inputs, accepted, clean errors (``CollaborLogError``), raw tracebacks (any other
exception), hangs, and lines lost. An input whose log is well formed apart from its damage knows
how many complete lines it holds (blank ones too); it loses lines when it is refused, or accepted
with fewer lines kept or counted as blank.
Raw tracebacks, hangs and lines lost should all be 0; the first few of each are printed.

The generated logs are synthetic; no data is read from the data directory.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import multiprocessing as mp
import random
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import yaml

AREAS = ("text_format", "raw_bytes", "gzip", "csv", "jsonl", "parquet", "labels", "config", "logevol")

FORMATS = (
    "<Date> <Time> <Level> <Component>: <Content>",
    "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "\\[<Time>\\] \\[<Level>\\] <Content>",
    "<Date> <Time> - <Level>  \\[<Node>:<Component>@<Id>\\] - <Content>",
    "\\[<Time>\\] <Program> - <Content>",
    "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
    # A regex group, as loghub's Linux format has; CollaborLog reads its parentheses literally.
    "<Month>  <Day> <Time> <User> <Component>\\[<PID>\\]( \\(<Address>\\))?: <Content>",
)
HDFS_FORMAT = FORMATS[0]
LEVELS = ("INFO", "WARN", "ERROR", "DEBUG")
ALPHABET = " \t:[]()<>-_/.,;=@#%$*+?{}|\\^\"'abcdefXYZ0123456789\u00e9\u4e2d\U0001f600\x1b\x0b\x0c"


@dataclass
class Case:
    """One generated input: the dataset config to load and the complete lines its log holds (if known).

    ``expected_lines`` counts blank lines too: a reader must keep each line or count it as blank.
    """

    area: str
    config: Path
    expected_lines: int | None = None
    may_refuse: bool = False
    """A refusal loses nothing (e.g. a format that matches none of the lines); only fewer lines kept does."""


@dataclass
class Outcome:
    area: str
    status: str  # accepted | clean | raw | hang
    lost: int = 0
    detail: str = ""


@dataclass
class Tally:
    counts: Counter = field(default_factory=Counter)
    lost: int = 0
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def _good_line(rng: random.Random, i: int) -> str:
    return (f"2008-11-{9 + i % 3:02d} 20:{i % 60:02d}:{(i * 7) % 60:02d} {rng.choice(LEVELS)} "
            f"dfs.Comp{rng.randrange(5)}: message {i} blk_{rng.randrange(10**6)} value {rng.random():.3f}")


def _good_text(rng: random.Random, n: int) -> str:
    return "".join(_good_line(rng, i) + "\n" for i in range(n))


def _random_text(rng: random.Random, n_lines: int) -> str:
    lines = []
    for _ in range(n_lines):
        kind = rng.random()
        if kind < 0.2:  # the probe's hang: a run of spaces with no ": " (up to 5,000 characters)
            lines.append(" " * rng.randrange(1, 5000))
        elif kind < 0.35:
            lines.append(rng.choice([" ", ": ", "[", "] ", " - ", "\t"]) * rng.randrange(1, 400))
        elif kind < 0.7:
            lines.append(_good_line(rng, rng.randrange(1000)))
        else:
            lines.append("".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 300))))
    return "\n".join(lines) + rng.choice(["", "\n", "\r\n"])


def _write_config(folder: Path, cfg: dict) -> Path:
    path = folder / "dataset.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def _text_cfg(path: str, fmt: str = HDFS_FORMAT, **extra) -> dict:
    return {"name": "fuzz", "source": {"kind": "text", "path": path, "log_format": fmt, **extra}}


def _gzip_oracle(damaged: bytes) -> bytes:
    """The complete lines (blank ones too) that a byte-by-byte zlib decode of ``damaged`` reaches before any break."""
    out = bytearray()
    data = damaged
    while data[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(31)
        end = None
        for k in range(len(data)):
            try:
                out += d.decompress(data[k : k + 1])
            except zlib.error:
                break
            if d.eof:
                end = k + 1
                break
        if end is None:
            break
        data = data[end:]
    return bytes(out[: out.rfind(b"\n") + 1])


def _csv_records(text: bytes) -> int:
    """CSV records after the header (a damaged quote can join lines into one record; blank lines count)."""
    return max(0, sum(1 for _ in csv.reader(io.StringIO(text.decode("utf-8", "replace")))) - 1)


def _line_count(text: str) -> int:
    """Lines of an intact text, blank ones too (a last line needs no newline)."""
    parts = text.split("\n")
    return len(parts) - (parts[-1] == "")


def _damage_gzip(rng: random.Random, blob: bytes) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:  # cut short anywhere
        return blob[: rng.randrange(1, len(blob))]
    if kind == 1:  # stray bytes after an intact stream
        return blob + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == 2:  # one byte flipped
        pos = rng.randrange(len(blob))
        return blob[:pos] + bytes([blob[pos] ^ (1 << rng.randrange(8))]) + blob[pos + 1 :]
    if kind == 3:  # a second member, cut short
        second = gzip.compress(b"tail line 1\ntail line 2\n")
        return blob + second[: rng.randrange(1, len(second))]
    return blob[: rng.randrange(1, min(len(blob), 20))]  # cut inside or just after the header


def gen_text_format(rng: random.Random, folder: Path) -> Case:
    text = _random_text(rng, rng.randrange(1, 40))
    (folder / "a.log").write_text(text, encoding="utf-8")
    cfg = _text_cfg("a.log", rng.choice(FORMATS))
    expected = _line_count(text)
    # Every non-blank line is kept (matched or as raw content) unless the format matches none of them.
    return Case("text_format", _write_config(folder, cfg), expected, may_refuse=True)


def gen_raw_bytes(rng: random.Random, folder: Path) -> Case:
    kind = rng.randrange(4)
    if kind == 0:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
    elif kind == 1:
        data = _good_text(rng, 20).encode("latin-1", "replace").replace(b"message", b"m\xe9ssage\xff")
    elif kind == 2:
        data = _good_text(rng, 10).encode("utf-16")
    else:
        data = _good_text(rng, 10).encode() + b"\x00" * rng.randrange(1, 50) + _good_text(rng, 5).encode()
    (folder / "a.log").write_bytes(data)
    enc = rng.choice(["utf-8", "latin-1", "utf-16", "ascii"])
    return Case("raw_bytes", _write_config(folder, _text_cfg("a.log", encoding=enc)))


def gen_gzip(rng: random.Random, folder: Path) -> Case:
    text = _good_text(rng, rng.randrange(1, 400)).encode()
    if rng.random() < 0.5:
        text = text.replace(b"\n", b"\n\n", rng.randrange(3))  # some blank lines too
    damaged = _damage_gzip(rng, gzip.compress(text, compresslevel=rng.choice([1, 6, 9])))
    (folder / "a.log.gz").write_bytes(damaged)
    expected = _gzip_oracle(damaged).count(b"\n")
    return Case("gzip", _write_config(folder, _text_cfg("a.log.gz")), expected)


def _csv_text(rng: random.Random, n: int, blank_lines: int) -> str:
    rows = ["Time,Level,Content"]
    for i in range(n):
        rows.append(f"2008-11-09 20:{i % 60:02d}:00,{rng.choice(LEVELS)},\"message {i}, with comma\"")
    for _ in range(blank_lines):
        rows.insert(rng.randrange(1, len(rows) + 1), "")
    return "\n".join(rows) + "\n"


def gen_csv(rng: random.Random, folder: Path) -> Case:
    text = _csv_text(rng, rng.randrange(1, 200), rng.randrange(0, 4))
    kind = rng.randrange(5)
    expected: int | None = _csv_records(text.encode())
    name = "a.csv"
    if kind == 0:  # gzip, damaged
        name = "a.csv.gz"
        data = _damage_gzip(rng, gzip.compress(text.encode()))
        recovered = _gzip_oracle(data)
        # A flipped bit in the header leaves no column to read content from: nothing is recoverable then.
        expected = _csv_records(recovered) if recovered.startswith(text.split("\n", 1)[0].encode() + b"\n") else None
    elif kind == 1:  # broken quoting and ragged rows
        data = (text + '"unterminated,INFO,x\n' + "a,b,c,d,e\n" * rng.randrange(3)).encode()
        expected = None
    elif kind == 2:  # random bytes
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
        expected = None
    elif kind == 3:  # no content column, or header only
        data = rng.choice(["a,b\n1,2\n", "Time,Level,Content\n", ",,,\n\n\n"]).encode()
        expected = None
    else:
        data = text.encode()
    (folder / name).write_bytes(data)
    cfg = {"name": "fuzz", "source": {"kind": "csv", "path": name,
                                      "timestamp": {"fields": ["Time"], "format": rng.choice(["auto", "%Y-%m-%d %H:%M:%S"])}}}
    return Case("csv", _write_config(folder, cfg), expected)


def gen_jsonl(rng: random.Random, folder: Path) -> Case:
    n = rng.randrange(1, 150)
    lines = [json.dumps({"Content": f"message {i}", "Time": f"2008-11-09T20:{i % 60:02d}:00"}) for i in range(n)]
    extra = rng.randrange(4)
    if extra == 0:
        lines += ["", "   ", "[1, 2]", "42", "{not json", "null"]
    elif extra == 1:
        lines += ['{"Content": null}', '{"Content": [1, 2]}', '{"Time": "x"}', '{"Content": "\\ud800"}']
    body = ("\n".join(lines) + "\n").encode()
    expected: int | None = len(lines)
    name = "a.jsonl"
    if rng.random() < 0.4:
        name = "a.jsonl.gz"
        data = _damage_gzip(rng, gzip.compress(body))
        expected = _gzip_oracle(data).count(b"\n")
    else:
        data = body
    (folder / name).write_bytes(data)
    cfg = {"name": "fuzz", "source": {"kind": "jsonl", "path": name,
                                      "timestamp": {"fields": ["Time"], "format": rng.choice(["auto", "unix"])}}}
    return Case("jsonl", _write_config(folder, cfg), expected or None)


def gen_parquet(rng: random.Random, folder: Path) -> Case:
    import pandas as pd

    n = rng.randrange(1, 100)
    stamps = pd.date_range("2008-11-09", periods=n, freq="s")
    if rng.random() < 0.3:
        stamps = stamps.tz_localize(rng.choice(["UTC", "Europe/Paris"]))
    table = pd.DataFrame({"Content": [f"message {i}" for i in range(n)], "Time": stamps})
    buf = io.BytesIO()
    table.to_parquet(buf)
    blob = buf.getvalue()
    kind = rng.randrange(3)
    if kind == 0:
        blob = blob[: rng.randrange(1, len(blob))]
    elif kind == 1:
        pos = rng.randrange(len(blob))
        blob = blob[:pos] + bytes([rng.randrange(256)]) * rng.randrange(1, 16) + blob[pos + 16 :]
    (folder / "a.parquet").write_bytes(blob)
    cfg = {"name": "fuzz", "source": {"kind": "parquet", "path": "a.parquet", "timestamp": {"fields": ["Time"]}}}
    return Case("parquet", _write_config(folder, cfg), n if kind == 2 else None)


def gen_labels(rng: random.Random, folder: Path) -> Case:
    n = rng.randrange(2, 60)
    rows = []
    for i in range(n):
        rows.append(f"2008-11-09 20:{i % 60:02d}:00 INFO dfs.X: block blk_{i % 7} message {i}")
    (folder / "a.log").write_text("\n".join(rows) + "\n", encoding="utf-8")
    ids = [f"blk_{i}" for i in range(7)]
    values = ["0", "1", "Normal", "Anomaly", "true", "false"]
    bad = [" ", "", "2", "nan", "-1", "abnormal?", "\u00e9", "1.5", "None"]
    lines = ["BlockId,Label"]
    bad_row = rng.randrange(len(ids) * 4)  # a quarter of the files have a bad label, a quarter a bad id
    for k, sid in enumerate(ids):
        label = rng.choice(bad) if k == bad_row else rng.choice(values)
        sid_out = rng.choice(["", " ", "blk_x,y", '"blk_1', sid + "\x00"]) if k == bad_row - len(ids) else sid
        lines.append(f"{sid_out},{label}")
    if rng.random() < 0.2:
        lines.append(f"{ids[0]},{'1' if rng.random() < 0.5 else '0'}")  # a duplicate id
    body = ("\n".join(lines) + "\n").encode()
    kind = rng.randrange(4)
    name = "labels.csv"
    if kind == 0:
        name = "labels.csv.gz"
        body = _damage_gzip(rng, gzip.compress(body))
    elif kind == 1:
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 500)))
    elif kind == 2:
        body = body.decode().replace("BlockId", rng.choice(["BlockId", "Block", "id"])).encode("latin-1", "replace")
    (folder / name).write_bytes(body)
    cfg = _text_cfg("a.log")
    cfg["grouping"] = {"kind": "session", "regex": "blk_-?\\d+"}
    cfg["labels"] = {"kind": "session_file", "path": name, "id_column": "BlockId", "label_column": "Label"}
    return Case("labels", _write_config(folder, cfg))


def gen_config(rng: random.Random, folder: Path) -> Case:
    (folder / "a.log").write_text(_good_text(rng, 30), encoding="utf-8")
    cfg = _text_cfg("a.log")
    kind = rng.randrange(9)
    if kind == 0:
        cfg["source"]["encoding"] = rng.choice(["utf-9", "latin-42", "", "base64", "rot13", "hex", "zip", "utf8"])
    elif kind == 1:
        cfg["source"]["timestamp"] = {"fields": ["Date", "Time"],
                                      "format": rng.choice(["%Q", "%Y-%m-%d %H:%M:%", "%", "%Y %!", "%Y-%m-%d %H:%M:%S", "%s"])}
    elif kind == 2:  # mixed time zones in one column
        stamps = ["2008-11-09T20:00:00+01:00", "2008-11-09T20:00:01Z", "2008-11-09T20:00:02", "2008-11-09T20:00:03-05:00"]
        (folder / "a.log").write_text("".join(f"{rng.choice(stamps)} INFO dfs.X: message {i}\n" for i in range(30)),
                                      encoding="utf-8")
        cfg["source"]["log_format"] = "<Stamp> <Level> <Component>: <Content>"
        cfg["source"]["timestamp"] = {"fields": ["Stamp"], "format": rng.choice(["auto", "%Y-%m-%dT%H:%M:%S%z", "ISO8601"])}
    elif kind == 3:  # a latin-1 (non-UTF-8) YAML file
        path = folder / "dataset.yaml"
        path.write_bytes(yaml.safe_dump(dict(cfg, description="caf\u00e9 r\u00e9sum\u00e9"), allow_unicode=True)
                         .encode("latin-1"))
        return Case("config", path)
    elif kind == 4:
        cfg["source"]["log_format"] = rng.choice(["<>", "<a b>", "<Content", "\\", "<Content>\\", "<A><Content>",
                                                  "<Content> <Content>", "[<Content>", "\\[<Content>\\]"])
    elif kind == 5:
        cfg["grouping"] = rng.choice([{"kind": "session", "regex": "(["}, {"kind": "time", "seconds": 60},
                                      {"kind": "session", "field": "Nope"}, {"kind": "count", "size": 0}])
    elif kind == 6:
        cfg["source"]["max_line_chars"] = rng.choice([1, 5, -1, "x", 10**12])
    elif kind == 7:
        key = rng.choice(["name", "source", "split", "parser", "labels"])
        cfg[key] = rng.choice([None, 3, "x", [1, 2], {"kind": "bogus"}, {"ratios": [0.5, 0.6, -0.1]}])
    else:
        path = folder / "dataset.yaml"
        path.write_bytes(rng.choice([b"- a\n- b\n", b"{", b"name: [\n", b"\x00\x01", b"", b"key: !!python/object:os.system x"]))
        return Case("config", path)
    return Case("config", _write_config(folder, cfg))


def gen_logevol(rng: random.Random, folder: Path) -> Case:
    root = folder / "Logevol" / "spark2"
    root.mkdir(parents=True)
    bad_labels = ["x", None, "1.5", float("nan"), [1], {"a": 1}, "", 1e400, "NaN", True]
    damaged_split = rng.choice(["train", "valid", "test", "none"])
    for split in ("train", "valid", "test"):
        rows = []
        n = rng.randrange(1, 8)
        bad_row = rng.randrange(n) if split == damaged_split else -1
        for i in range(n):
            row: object = {"id": f"s{i}", "label": rng.choice([0, 1]), "Content": [f"line {j}" for j in range(3)],
                           "line_labels": [0, 0, 1]}
            roll = rng.random() * 0.5 if i == bad_row else 1.0
            if roll < 0.15:
                row["label"] = rng.choice(bad_labels)
            elif roll < 0.3:
                row["line_labels"] = rng.choice([["a", 0, 1], [None], "01", 5, [1e400, 0, 0], [0, 1]])
            elif roll < 0.4:
                row["Content"] = rng.choice(["one string", 5, None, [None, {"a": 1}], {"a": "b"}])
            elif roll < 0.45:
                row = rng.choice([[1, 2], "text", 3, None])
            elif roll < 0.5:
                row.pop("label")
            rows.append(json.dumps(row, allow_nan=True))
        body = "\n".join(rows) + "\n"
        if split == damaged_split and rng.random() < 0.2:
            body = body[: rng.randrange(1, len(body))]
        (root / f"session_{split}.jsonl").write_text(body, encoding="utf-8")
    cfg = {"name": "fuzz", "source": {"kind": "logevol", "path": "Logevol", "system": "spark2"},
           "split": {"kind": "predefined"}}
    return Case("logevol", _write_config(folder, cfg))


GENERATORS = {
    "text_format": gen_text_format, "raw_bytes": gen_raw_bytes, "gzip": gen_gzip, "csv": gen_csv, "jsonl": gen_jsonl,
    "parquet": gen_parquet, "labels": gen_labels, "config": gen_config, "logevol": gen_logevol,
}


def run_case(seed: int, index: int) -> Outcome:
    """Generate input ``index`` and load + summarize it; classify what happened."""
    from collaborlog.data.dataset import load_dataset, resolve_config
    from collaborlog.data.summary import summarize
    from collaborlog.errors import CollaborLogError

    area = AREAS[index % len(AREAS)]
    rng = random.Random(f"{seed}-{index}")
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        folder = Path(tmp)
        case = GENERATORS[area](rng, folder)
        try:
            cfg, base = resolve_config(str(case.config))
            summary = summarize(load_dataset(cfg, base))
        except CollaborLogError as err:
            # A refused well-formed-but-damaged log loses every complete line it held.
            lost = 0 if case.may_refuse else case.expected_lines or 0
            return Outcome(area, "clean", lost, f"{type(err).__name__}: {str(err)[:160]}")
        except Exception:  # noqa: BLE001 - the point of the benchmark is to find these
            return Outcome(area, "raw", 0, traceback.format_exc(limit=-3)[-700:])
        # Every line must be accounted for: kept, or counted as blank.
        got = summary.lines + summary.blank_lines
        expected = case.expected_lines
        lost = max(0, expected - got) if expected is not None else 0
        return Outcome(area, "accepted", lost, f"input {index}: expected {expected} lines, got {got}" if lost else "")


def _worker(conn, seed: int) -> None:
    import warnings

    warnings.simplefilter("ignore")
    while True:
        index = conn.recv()
        if index is None:
            return
        conn.send(run_case(seed, index))


class Pool:
    """Worker processes fed one input at a time; one that overruns the limit is killed and replaced."""

    def __init__(self, workers: int, seed: int, timeout: float) -> None:
        self.seed, self.timeout = seed, timeout
        self.ctx = mp.get_context("fork" if sys.platform != "win32" else "spawn")
        self.slots = [self._start() for _ in range(workers)]

    def _start(self) -> dict:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child, self.seed), daemon=True)
        proc.start()
        return {"proc": proc, "conn": parent, "index": None, "since": 0.0}

    def run(self, indices: list[int]):
        todo = list(reversed(indices))
        while todo or any(s["index"] is not None for s in self.slots):
            for k, slot in enumerate(self.slots):
                if slot["index"] is None and todo:
                    slot["index"], slot["since"] = todo.pop(), time.monotonic()
                    slot["conn"].send(slot["index"])
            busy = [s for s in self.slots if s["index"] is not None]
            ready = wait([s["conn"] for s in busy], timeout=0.05)
            now = time.monotonic()
            for k, slot in enumerate(self.slots):
                if slot["index"] is None:
                    continue
                if slot["conn"] in ready:
                    try:
                        yield slot["conn"].recv()
                    except EOFError:  # the worker died (e.g. killed for memory)
                        yield Outcome(AREAS[slot["index"] % len(AREAS)], "raw", 0, f"worker died on input {slot['index']}")
                        self.slots[k] = self._start()
                        continue
                    slot["index"] = None
                elif now - slot["since"] > self.timeout:
                    yield Outcome(AREAS[slot["index"] % len(AREAS)], "hang", 0, f"input {slot['index']} ran past {self.timeout:g} s")
                    slot["proc"].kill()
                    slot["proc"].join()
                    self.slots[k] = self._start()

    def close(self) -> None:
        for slot in self.slots:
            slot["conn"].send(None)
            slot["proc"].join(timeout=5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="how many inputs to generate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds one input may take before it counts as a hang")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--examples", type=int, default=3, help="how many examples of each failure kind to print")
    args = ap.parse_args()

    started = time.monotonic()
    tallies: dict[str, Tally] = defaultdict(Tally)
    pool = Pool(args.workers, args.seed, args.timeout)
    for outcome in pool.run(list(range(args.n))):
        for key in (outcome.area, "total"):
            tally = tallies[key]
            tally.counts[outcome.status] += 1
            tally.lost += outcome.lost
        kind = outcome.status if outcome.status in ("raw", "hang") else ("lost" if outcome.lost else "")
        if kind and len(tallies["total"].examples[kind]) < args.examples * 3:
            tallies[outcome.area].examples[kind].append(outcome.detail)
            tallies["total"].examples[kind].append(outcome.detail)
    pool.close()

    print(f"{'area':<12} {'inputs':>7} {'accepted':>9} {'clean errors':>13} {'raw tracebacks':>15} {'hangs':>6} {'lines lost':>11}")
    for key in (*AREAS, "total"):
        t = tallies[key]
        c = t.counts
        print(f"{key:<12} {sum(c.values()):>7} {c['accepted']:>9} {c['clean']:>13} {c['raw']:>15} {c['hang']:>6} {t.lost:>11}")
    print(f"\n{args.n} inputs in {time.monotonic() - started:.0f} s with {args.workers} workers (seed {args.seed}).")
    for area in AREAS:
        for kind, details in tallies[area].examples.items():
            for detail in details[: args.examples]:
                print(f"\n--- {area} {kind}:\n{detail}")


if __name__ == "__main__":
    main()
