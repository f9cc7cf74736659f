"""An article's comparison keys never change for the same text: stored band keys and hashes are
compared with those of every later article, so a faster fold or hash must give the same values.
(The folding itself, shared with rules and the gazetteer, is tested in test_textfold.)"""

from __future__ import annotations

import hashlib
import random
import sys

from storage import textfold
from storage.similarity import (
    _PRIME,
    BANDS,
    NEAR_DUPLICATE,
    ROWS,
    _permutations,
    band_keys,
    jaccard,
    shingles,
    text_keys,
)
from tests.test_grouping import WIRE


def test_the_keys_of_a_known_text_are_the_ones_stored_before() -> None:
    """Latin, Cyrillic and Arabic text keeps the keys it had before the folding of rules and
    near-duplicate keys became one (values computed by the earlier folding)."""
    keys = text_keys("Genève: ТЕРРОРИЗМ", WIRE + " Ünïcödé ﬁnance ½ الإرهاب")
    assert keys.digest == "2c531f16f41646932a33ad9a055bd73ded2d8949e2f8d20c313feb0a47513286"
    assert keys.title_key == "geneve терроризм"
    assert keys.bands[:4] == (
        1707205804100372842,
        350463894659895463,
        9171129979346189635,
        7569134785525670700,
    )
    assert len(keys.shingles) == 89
    assert sorted(keys.shingles)[:3] == [29294699, 33259759, 34432633]


def test_han_and_kana_are_compared_character_by_character() -> None:
    """Text without spaces is shingled as rules read it, a word per character: a Japanese
    report and its rewrite share shingles, where whole sentences as words shared none."""
    report = "東京で国際会議が開かれた。各国の代表が参加し、テロ対策について協議した。"
    rewrite = "東京で国際会議が開かれ、各国の代表が参加してテロ対策について協議した。"
    assert textfold.words("東京で") == ["東", "京", "で"]
    assert jaccard(shingles(report), shingles(rewrite)) >= NEAR_DUPLICATE
    assert text_keys("", report).bands


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
