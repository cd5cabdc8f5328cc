"""Interests: the IAB Tech Lab Content Taxonomy 3.1, shipped in `data/` (see its NOTICE.md).

Each node keeps the taxonomy's Unique ID as its stable id; parents come from the tier path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from audiences.targeting.loading import Lazy
from audiences.targeting.textsearch import NameIndex, Names

DATA_FILE = "iab_content_taxonomy_3_1.json"
TAXONOMY_NAME = "IAB Tech Lab Content Taxonomy"
TAXONOMY_VERSION = "3.1"
TAXONOMY_LICENSE = "CC BY 3.0"
TAXONOMY_SOURCE = "https://github.com/InteractiveAdvertisingBureau/Taxonomies"


@dataclass(frozen=True, slots=True)
class Interest:
    id: str
    name: str
    path: tuple[str, ...]
    parent_id: str | None
    children: list[str] = field(default_factory=list)  # ids, in taxonomy order

    @property
    def tier(self) -> int:
        return len(self.path)


@dataclass(frozen=True, slots=True)
class InterestCatalog:
    nodes: list[Interest]  # taxonomy order: depth-first, siblings alphabetical
    by_id: dict[str, Interest]
    roots: list[str]
    index: NameIndex

    def search(self, q: str) -> list[Interest]:
        """Nodes matching `q`: best match first, then shallower, then taxonomy order."""
        hits = self.index.search(q)
        ranked = sorted(hits, key=lambda i: (hits[i].tier, self.nodes[i].tier, i))
        return [self.nodes[i] for i in ranked]


def _read_rows() -> list[dict[str, Any]]:
    text = resources.files("audiences.targeting").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    rows: list[dict[str, Any]] = json.loads(text)
    return rows


def _load() -> InterestCatalog:
    rows = _read_rows()
    id_by_path = {tuple(row["path"]): str(row["id"]) for row in rows}
    nodes: list[Interest] = []
    by_id: dict[str, Interest] = {}
    roots: list[str] = []
    for row in rows:
        path = tuple(str(part) for part in row["path"])
        parent = id_by_path[path[:-1]] if len(path) > 1 else None
        node = Interest(id=str(row["id"]), name=str(row["label"]), path=path, parent_id=parent)
        nodes.append(node)
        by_id[node.id] = node
        if parent is None:
            roots.append(node.id)
    for node in nodes:
        if node.parent_id is not None:
            by_id[node.parent_id].children.append(node.id)
    index = NameIndex([Names(node.name, codes=(node.id,)) for node in nodes])
    return InterestCatalog(nodes, by_id, roots, index)


catalog = Lazy(_load).get
