"""The hash chain: canonical JSON of each entry, chained to the previous entry's hash with SHA-256.

An entry is ``{"seq", "kind", "key", "body"}``. Its canonical text is ``json.dumps`` of that object with
sorted keys, no whitespace and UTF-8 text (``ensure_ascii=False``); its hash is
``sha256(canonical_text + "\\n" + previous_hash)`` in hex, where the first entry's previous hash is
:data:`GENESIS` (64 zeros). Changing, removing or reordering any committed entry changes every later hash,
so :func:`first_break` finds the first entry that no longer fits.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

GENESIS = "0" * 64


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_PLAIN = re.compile(r"^[A-Za-z0-9_]*$")


def canonical(value: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, UTF-8 (no ASCII escapes), no NaN."""
    return _ENCODER.encode(value)


def _text(value: str | None) -> str:
    if value is None:
        return "null"
    return f'"{value}"' if _PLAIN.match(value) else _ENCODER.encode(value)


def entry_text(seq: int, kind: str, key: str | None, body_text: str) -> str:
    """Canonical JSON of a whole entry, built around its already-canonical ``body_text``."""
    return f'{{"body":{body_text},"key":{_text(key)},"kind":{_text(kind)},"seq":{seq}}}'


def entry_hash(seq: int, kind: str, key: str | None, body_text: str, prev_hash: str) -> str:
    """SHA-256 (hex) of the entry's canonical JSON, a newline and the previous entry's hash."""
    data = entry_text(seq, kind, key, body_text) + "\n" + prev_hash
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One committed ledger entry (``body`` parsed from its canonical ``body_text``)."""

    seq: int
    kind: str
    key: str | None
    body_text: str
    prev_hash: str
    hash: str

    @property
    def body(self) -> dict[str, Any]:
        """The entry's content."""
        return json.loads(self.body_text)  # type: ignore[no-any-return]


def chain_rows(
    start_seq: int, prev_hash: str, items: Iterable[tuple[str, str | None, Any]]
) -> tuple[list[tuple[int, str, str | None, str, str, str]], str]:
    """Rows ``(seq, kind, key, body_text, prev_hash, hash)`` for ``(kind, key, body)`` items, hashed in one pass.

    Returns the rows and the last hash (``prev_hash`` when there are no items).
    """
    return chain_texts(start_seq, prev_hash, ((kind, key, canonical(body)) for kind, key, body in items))


def chain_texts(
    start_seq: int, prev_hash: str, items: Iterable[tuple[str, str | None, str]]
) -> tuple[list[tuple[int, str, str | None, str, str, str]], str]:
    """:func:`chain_rows` for bodies already written as canonical JSON text."""
    rows = []
    sha = hashlib.sha256
    seq, prev = start_seq, prev_hash
    for kind, key, text in items:
        digest = sha((entry_text(seq, kind, key, text) + "\n" + prev).encode("utf-8")).hexdigest()
        rows.append((seq, kind, key, text, prev, digest))
        prev = digest
        seq += 1
    return rows, prev


@dataclass(frozen=True)
class Break:
    """Where the chain stops fitting: the entry's ``seq``, ``kind`` and what is wrong."""

    seq: int
    kind: str
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq} ({self.kind}): {self.problem}"


def first_break(entries: Iterable[Entry]) -> Iterator[Break]:
    """Walk ``entries`` in order; yield the first :class:`Break` found (nothing when the chain is whole)."""
    prev, expected = GENESIS, 1
    for e in entries:
        if e.seq != expected:
            yield Break(e.seq, e.kind, f"expected entry {expected} here; entries are missing or reordered")
            return
        if e.prev_hash != prev:
            yield Break(e.seq, e.kind, "its previous-hash does not match the entry before it")
            return
        try:
            text = canonical(json.loads(e.body_text))
        except ValueError:
            yield Break(e.seq, e.kind, "its content is not valid JSON")
            return
        if text != e.body_text or entry_hash(e.seq, e.kind, e.key, e.body_text, prev) != e.hash:
            yield Break(e.seq, e.kind, "its content does not match its hash (changed after it was recorded)")
            return
        prev, expected = e.hash, expected + 1


def quote(text: str) -> str:
    """A string as canonical JSON (what :func:`canonical` writes for it), fast."""
    return encode_basestring(text)


def digest(values: Sequence[Any]) -> str:
    """SHA-256 of the canonical JSON of ``values`` (for summaries recorded inside an entry)."""
    return hashlib.sha256(canonical(list(values)).encode("utf-8")).hexdigest()
