"""A word-level diff of two texts, for narrative fields on the version comparison page.

Pure (no Django import): whitespace is kept so each side re-assembles exactly, and one edited
stretch reads as one phrase replaced by another.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

ChunkOp = Literal["equal", "insert", "delete"]


@dataclass(frozen=True)
class WordChunk:
    """A run of text that is the same in both versions, only in the new or only in the old."""

    op: ChunkOp
    text: str


def word_diff(old: str, new: str) -> list[WordChunk]:
    """A word-level diff of two texts; whitespace is kept so each side re-assembles exactly."""
    old_tokens = _tokens(old)
    new_tokens = _tokens(new)
    # autojunk would treat frequent words ("the", spaces) as junk in long texts and fragment
    # the result; these texts are short enough for the exact comparison.
    matcher = difflib.SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    chunks: list[WordChunk] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            chunks.append(WordChunk("equal", "".join(old_tokens[i1:i2])))
            continue
        if i2 > i1:
            chunks.append(WordChunk("delete", "".join(old_tokens[i1:i2])))
        if j2 > j1:
            chunks.append(WordChunk("insert", "".join(new_tokens[j1:j2])))
    return _coalesce(chunks)


def _tokens(text: str) -> list[str]:
    return re.findall(r"\s+|[^\s]+", text)


def _coalesce(chunks: list[WordChunk]) -> list[WordChunk]:
    """Readable chunks: one deletion and one insertion per edited stretch.

    A lone space kept "equal" between two edited words would split "15 minutes" → "2 hours"
    into four fragments; folding it into the edit shows one phrase replaced by another.
    """
    folded: list[WordChunk] = []
    for index, chunk in enumerate(chunks):
        between_edits = (
            chunk.op == "equal"
            and not chunk.text.strip()
            and 0 < index < len(chunks) - 1
            and chunks[index - 1].op != "equal"
            and chunks[index + 1].op != "equal"
        )
        if between_edits:
            folded += [WordChunk("delete", chunk.text), WordChunk("insert", chunk.text)]
        else:
            folded.append(chunk)

    result: list[WordChunk] = []
    deleted: list[str] = []
    inserted: list[str] = []

    def flush() -> None:
        # Within one edited stretch only the order per side matters, so deletions come first.
        if deleted:
            result.append(WordChunk("delete", "".join(deleted)))
        if inserted:
            result.append(WordChunk("insert", "".join(inserted)))
        deleted.clear()
        inserted.clear()

    for chunk in folded:
        if chunk.op == "delete":
            deleted.append(chunk.text)
        elif chunk.op == "insert":
            inserted.append(chunk.text)
        else:
            flush()
            if result and result[-1].op == "equal":
                result[-1] = WordChunk("equal", result[-1].text + chunk.text)
            else:
                result.append(chunk)
    flush()
    return result
