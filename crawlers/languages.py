"""Languages of a text, paragraph by paragraph, so a trilingual page records all three."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import py3langid

MIN_LETTERS = 40  # shorter paragraphs are too short to tell
MIN_SHARE = 0.1  # a language must hold this share of the text to be recorded
SAMPLE_CHARS = 300  # a paragraph's language shows in its first lines; the classifier is linear


def detect_languages(paragraphs: Sequence[str]) -> list[str]:
    """Languages that hold at least a tenth of the letters, most letters first."""
    letters: Counter[str] = Counter()
    for paragraph in paragraphs:
        count = sum(map(str.isalpha, paragraph))
        if count >= MIN_LETTERS:
            language, _ = py3langid.classify(paragraph[:SAMPLE_CHARS])
            letters[language] += count
    if not letters:
        text = " ".join(paragraphs)
        return [py3langid.classify(text[:SAMPLE_CHARS])[0]] if text.strip() else []
    total = sum(letters.values())
    return [lang for lang, count in letters.most_common() if count / total >= MIN_SHARE]
