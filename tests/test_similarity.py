"""An article's comparison keys never change for the same text: stored band keys and hashes are
compared with those of every later article, so a faster fold or hash must give the same values."""

from __future__ import annotations

import hashlib
import random
import re
import sys
import unicodedata

from storage.similarity import (
    _PRIME,
    BANDS,
    ROWS,
    _permutations,
    band_keys,
    folded_words,
    text_keys,
)
from tests.test_grouping import WIRE

_WORD = re.compile(r"\w+")


def _folded_one_chunk_at_a_time(text: str) -> list[str]:
    """How the keys stored so far were folded: each whitespace-separated chunk on its own,
    casefolded, decomposed, then character by character without combining marks."""
    words: list[str] = []
    for chunk in text.split():
        decomposed = unicodedata.normalize("NFKD", chunk.casefold())
        words += _WORD.findall("".join(c for c in decomposed if not unicodedata.combining(c)))
    return words


def test_the_keys_of_a_known_text_are_the_ones_stored_before() -> None:
    keys = text_keys("Genève: ТЕРРОРИЗМ", WIRE + " Ünïcödé ﬁnance ½ 東京 الإرهاب")
    assert keys.digest == "6cd54ba74ab768fe71a17baf3f18695478ee7640ab6f48a4652de335e88098a6"
    assert keys.title_key == "geneve терроризм"
    assert keys.bands[:4] == (
        1707205804100372842,
        350463894659895463,
        9171129979346189635,
        2330946979109487025,
    )
    assert len(keys.shingles) == 90
    assert sorted(keys.shingles)[:3] == [29294699, 33259759, 34432633]


def test_every_character_folds_as_it_did_one_chunk_at_a_time() -> None:
    """Each assigned code point beside letters, before a combining accent and alone, in texts
    of a few thousand: whitespace, marks, ligatures and characters beyond the BMP included."""
    codes = [
        code
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) not in ("Cn", "Co", "Cs")  # unassigned, private
    ]
    differ = []
    for start in range(0, len(codes), 4096):
        text = " ".join(f"a{chr(c)}b{chr(c)}\u0301 {chr(c)}" for c in codes[start : start + 4096])
        if folded_words(text) != _folded_one_chunk_at_a_time(text):
            differ.append(hex(codes[start]))
    assert not differ


def test_band_keys_are_minhash_bands_of_the_shingles_computed_one_by_one() -> None:
    """The signature as the MinHash definition gives it, in Python integers: however the
    array arithmetic is arranged, it must never overflow or round."""
    a, b = _permutations()
    chosen = random.Random(7)
    extremes = {0, 1, _PRIME - 1, _PRIME, _PRIME + 1, 2**32 - 1}
    for size in (12, 40, 300):
        found = frozenset(extremes | {chosen.getrandbits(32) for _ in range(size)})
        signature = [
            min((int(a[i]) * (x % _PRIME) % _PRIME + int(b[i])) % _PRIME for x in found)
            for i in range(BANDS * ROWS)
        ]
        expected = []
        for band in range(BANDS):
            rows = b"".join(
                v.to_bytes(8, sys.byteorder, signed=True)
                for v in signature[band * ROWS : (band + 1) * ROWS]
            )
            digest = hashlib.blake2b(band.to_bytes(2, "big") + rows, digest_size=8).digest()
            expected.append(int.from_bytes(digest, "big") >> 1)
        assert band_keys(found) == expected
