"""Near-duplicate text: word shingles, MinHash, and LSH band keys for an indexed lookup;
an article's keys (:func:`text_keys`) need nothing but its words, so extraction workers
compute them without loading the database layer.

Two reports of one story often share most of their sentences under different headlines (an
agency wire rewritten by each site). The Jaccard similarity of their sets of three-word
shingles measures that; MinHash estimates it from a signature, and LSH cuts the signature into
bands so that texts above the threshold share a band key with high probability. Band keys
are stored in a table: finding candidates is one indexed ``IN`` query, never a scan; the few
candidates are then compared exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from storage import textfold

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


SHINGLE_WORDS = 3
BANDS = 40
ROWS = 3  # per band: P(candidate) is ~0.93 at Jaccard 0.4, ~0.005 at Jaccard 0.05
NEAR_DUPLICATE = 0.4  # exact Jaccard of shingle sets from which two texts are one story
MIN_SHINGLES = 12  # shorter texts are too small to call near-duplicates
_PRIME = (1 << 31) - 1
_KEY_BITS = 63  # a band key fits a signed 64-bit column on every database


def shingles(text: str) -> frozenset[int]:
    """32-bit hashes of every run of SHINGLE_WORDS consecutive folded words (the folding of
    rules and the gazetteer: see storage.textfold)."""
    return word_shingles(textfold.words(text))


def word_shingles(words: Sequence[str]) -> frozenset[int]:
    """:func:`shingles` of words already folded."""
    runs = set(map(" ".join, zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)))
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes  # a lookup less per shingle
    return frozenset(
        [from_bytes(blake2b(run.encode(), digest_size=4).digest(), "big") for run in runs]
    )


def jaccard(first: frozenset[int], second: frozenset[int]) -> float:
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


@cache
def _permutations() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Fixed (a, b) of BANDS * ROWS hash functions ``(a * x + b) mod p``: stable across runs,
    since stored band keys must stay comparable."""
    import numpy as np  # here, not at the top: commands that store nothing need not load it

    rng = np.random.default_rng(20261123)
    a = rng.integers(1, _PRIME, size=BANDS * ROWS, dtype=np.int64)
    b = rng.integers(0, _PRIME, size=BANDS * ROWS, dtype=np.int64)
    return a, b


def band_keys(found: frozenset[int]) -> list[int]:
    """One key per LSH band; none when the text is too short to compare."""
    if len(found) < MIN_SHINGLES:
        return []
    import numpy as np

    a, b = _permutations()
    values = np.fromiter(found, dtype=np.int64, count=len(found)) % _PRIME
    # a * x + b < 2**62 + 2**31: one remainder gives the same values as two, in int64
    signature = ((np.outer(values, a) + b) % _PRIME).min(axis=0)
    keys = []
    for band, rows in enumerate(signature.reshape(BANDS, ROWS)):
        digest = hashlib.blake2b(band.to_bytes(2, "big") + rows.tobytes(), digest_size=8)
        keys.append(int.from_bytes(digest.digest(), "big") >> (64 - _KEY_BITS))
    return keys


@dataclass(frozen=True, slots=True)
class TextKeys:
    """What an article is found again and compared by, computed from its title and text
    alone: a crawl computes them in its extraction workers, off the process that stores."""

    digest: str
    title_key: str
    shingles: frozenset[int]
    bands: tuple[int, ...]


def text_keys(title: str, text: str) -> TextKeys:
    words = textfold.words(text)  # once, for the hash and the shingles
    found = word_shingles(words)
    bands = tuple(dict.fromkeys(band_keys(found)))
    return TextKeys(_words_hash(words), title_key(title), found, bands)


def _words_hash(words: list[str]) -> str:
    """Hash of the folded words only, so whitespace or punctuation changes are not "new"."""
    return hashlib.sha256(" ".join(words).encode()).hexdigest()


def title_key(title: str) -> str:
    return " ".join(textfold.words(title))[:512]
