"""Template mining with drain3's Drain over masked messages, and its JSON persistence.

Lines are masked column-wise, each distinct token once (see :meth:`collaborlog.parsing.masking.Masker.factorize`);
each *distinct* masked message is mined once (Drain's result for a message does not depend on
how often it repeats), which makes parsing large logs cheap.
The template store is saved as plain JSON, so loading it never runs code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from drain3.drain import Drain, LogCluster

from collaborlog.data.config import ParserConfig
from collaborlog.errors import DataError
from collaborlog.gc_pause import gc_paused
from collaborlog.parsing.masking import build_masker, masking_rules

STORE_VERSION = 1


@dataclass
class ParsedLines:
    """Lines mapped to distinct masked messages and those to templates.

    ``message_index[i]`` is line *i*'s row in ``messages``; ``message_template[j]`` is message
    *j*'s template id (a key of :attr:`TemplateMiner.templates`).
    """

    message_index: np.ndarray
    messages: list[str]
    message_template: np.ndarray

    def line_templates(self) -> np.ndarray:
        return self.message_template[self.message_index]


class TemplateMiner:
    """Masks messages and mines their templates with Drain; learns online.

    >>> miner = TemplateMiner(ParserConfig())
    >>> parsed = miner.parse(["open file /tmp/a.txt", "open file /var/b.log"])
    >>> parsed.messages
    ['open file <PATH>']
    """

    def __init__(self, config: ParserConfig) -> None:
        self.config = config
        self._masker = build_masker(masking_rules(config))
        self._drain = Drain(depth=config.depth, sim_th=config.sim_th, max_children=config.max_children)
        self._known: dict[str, int] = {}

    @property
    def templates(self) -> dict[int, str]:
        """Template id -> template text (``<*>`` marks a parameter Drain found)."""
        return {c.cluster_id: c.get_template() for c in self._drain.clusters}

    def mask(self, content: str) -> str:
        return self._masker.mask(content)

    def masked(self, contents: list[str]) -> tuple[np.ndarray, list[str]]:
        """``(message_index, messages)`` of ``contents``, as :meth:`parse` masks them; nothing is mined."""
        return self._masker.factorize(contents)

    def parse(self, contents: list[str], learn: bool = True) -> ParsedLines:
        """Mask ``contents`` and map each to a template.

        With ``learn`` new messages grow or create templates (Drain is online); without it an
        unseen message takes the closest existing template, or -1.
        """
        with gc_paused():
            # Each distinct masked message is mined once, in order of first appearance (so Drain sees
            # messages in the order line-by-line parsing would).
            message_index, messages = self._masker.factorize(contents)
            counts = np.bincount(message_index, minlength=len(messages))
            message_template = np.empty(len(messages), dtype=np.int64)
            for j, masked in enumerate(messages):
                message_template[j] = self._template_of(masked, int(counts[j]), learn)
            return ParsedLines(message_index, messages, message_template)

    def _template_of(self, masked: str, count: int, learn: bool) -> int:
        if learn:
            cluster, _ = self._drain.add_log_message(masked)
            cluster.size += count - 1
            return int(cluster.cluster_id)
        cluster = self._drain.match(masked, full_search_strategy="fallback")
        if cluster is None:
            tokens = self._drain.get_content_as_tokens(masked)
            cluster = self._drain.tree_search(self._drain.root_node, tokens, self._drain.sim_th, False)
        return int(cluster.cluster_id) if cluster is not None else -1

    def to_json(self) -> dict:
        return {
            "version": STORE_VERSION,
            "config": self.config.model_dump(mode="json"),
            "clusters": [
                {"id": c.cluster_id, "tokens": list(c.log_template_tokens), "size": c.size}
                for c in sorted(self._drain.clusters, key=lambda c: c.cluster_id)
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> "TemplateMiner":
        if data.get("version") != STORE_VERSION:
            raise DataError(
                f"template store version {data.get('version')!r} is not supported (this CollaborLog reads "
                f"version {STORE_VERSION}); re-fit the model to rebuild it"
            )
        miner = cls(ParserConfig.model_validate(data["config"]))
        drain = miner._drain
        for c in data["clusters"]:
            cluster = LogCluster(c["tokens"], int(c["id"]))
            cluster.size = int(c["size"])
            drain.id_to_cluster[cluster.cluster_id] = cluster
            drain.add_seq_to_prefix_tree(drain.root_node, cluster)
            drain.clusters_counter = max(drain.clusters_counter, cluster.cluster_id)
        return miner

    def save(self, path: Path) -> None:
        """Write the store as JSON, atomically."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json()), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "TemplateMiner":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"cannot read the template store {path}: {err}") from None
        return cls.from_json(data)
