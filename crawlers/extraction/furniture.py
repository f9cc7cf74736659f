"""Site furniture by its wording: the stock phrases that every CMS prints around articles.

Kept apart from the rules in :mod:`crawlers.extraction.cleaning` so the vocabulary can grow (a
language, a phrase) without touching the logic. Every entry is generic furniture seen on many
unrelated sites: headings of "related" lists, calls to subscribe, follow, log in or comment,
metadata labels, credits. Nothing here names a site.
"""

from __future__ import annotations

import re

# Whole lines, compared after case folding with trailing punctuation removed.
STOCK_LINES = frozenset(
    line.casefold()
    for line in (
        # English
        "Comments are closed", "Comments are off", "Leave a reply", "Leave a comment",
        "You must be logged in to post a comment", "Log in to comment", "Please log in",
        "No comments", "View comments", "Comments", "All news", "All articles", "More news",
        "Read more", "Read also", "Read next", "See also", "Related", "Related news",
        "Related articles", "Related posts", "Related stories", "Related content",
        "Recommended", "Recommended articles", "You may also like", "More on this topic",
        "Most read", "Most popular", "Trending", "Share", "Share this", "Share this article",
        "Share this story", "Share on Facebook", "Share on Twitter", "Tweet", "Email", "Print",
        "Print this page", "Main menu", "Menu", "Back to top", "Tags", "Topics",
        "Advertisement", "Sponsored", "Loading", "Subscribe", "Newsletter", "Sign up",
        "Follow us", "Table of contents", "Contents", "Skip to content",
        # French
        "Toutes les actualités", "Lire aussi", "À lire aussi", "A lire aussi", "Lire la suite",
        "Voir aussi", "Sur le même sujet", "Dans la même rubrique", "Articles similaires",
        "Partager", "Partager cet article", "Imprimer", "Publicité", "Commentaires",
        "Laisser un commentaire", "Les commentaires sont fermés", "Suivez-nous", "Sommaire",
        # Spanish / Portuguese / Italian
        "Contenido relacionado", "Notas relacionadas", "Noticias relacionadas",
        "Artículos relacionados", "Te puede interesar", "Le puede interesar", "Lee también",
        "Lea también", "Publicidad", "Compartir", "Comentarios", "Temas", "Etiquetas",
        "Leia também", "Notícias relacionadas", "Leggi anche", "Articoli correlati",
        # German
        "Schon gelesen", "Auch interessant", "Das könnte Sie auch interessieren",
        "Das könnte dich auch interessieren", "Zum Weiterlesen", "Weiterlesen",
        "Lesen Sie auch", "Mehr zum Thema", "Weitere Artikel", "Weitere Artikel zum Thema",
        "Weitere Themen", "Mehr Themen", "Empfohlene Beiträge", "Verwandte Artikel",
        "Kommentare", "Keine Kommentare", "Teilen", "Teilen mit", "Drucken", "Anzeige",
        "Werbung", "Bild anzeigen", "Wird geladen", "Inhaltsverzeichnis",
        # Russian
        "Все новости", "Читайте также", "Смотрите также", "Читать далее", "Поделиться",
        "Авторизуйтесь, пожалуйста", "Авторизуйтесь", "Войти", "Версия для печати",
        "Комментарии закрыты", "Комментарии", "Реклама", "Похожие новости", "Другие новости",
        "Новости по теме",
        # Arabic
        "جميع الأخبار", "اقرأ أيضا", "اقرأ أيضاً", "اقرأ المزيد", "شارك", "أخبار ذات صلة",
        "مواضيع ذات صلة", "إعلان", "تعليقات",
        # Polish
        "Czytaj też", "Czytaj także", "Zobacz także", "Komentarze",
    )
)  # fmt: skip

# A cross-reference: a "see also" prefix, then a separator, then another article's headline.
CROSS_REFERENCE = re.compile(
    r"^(?:read more|read also|also read|read next|see also|related|more on this|"
    r"lea también|lea más|lee también|vea también|ver también|le puede interesar|"
    r"te puede interesar|puedes ver|mira|mire|leia também|leggi anche|"
    r"à lire aussi|a lire aussi|lire aussi|voir aussi|"
    r"lesen sie auch|lesen sie hier|auch lesen|mehr zum thema|zum weiterlesen|auch interessant|"
    r"читайте также|смотрите также|читайте по теме|"
    r"اقرأ أيضا|اقرأ أيضاً|اقرأ المزيد|"
    r"czytaj też|czytaj także|zobacz także|dowiedz się więcej)"
    r"\s*[:»›>|–—-]",
    re.IGNORECASE,
)

# A call to act addressed to the reader: subscribe, follow, sign up, log in, comment, share.
CALL_TO_ACTION = re.compile(
    r"^(?:(?:subscribe|sign up|sign in|log in|login|register)\s+(?:now|here|today|to|for)\b|"
    r"follow (?:us|\w+ on)\b|join (?:us|our)\b|download (?:our|the) app|click here|never miss|"
    r"support (?:us|our)\b|if you (?:enjoyed|liked|value)\b|we want to hear|"
    r"abonnez-vous|inscrivez-vous|suivez-nous|pour lire la suite|pour accéder|connectez-vous|"
    r"suscríbete|síguenos|siguenos|únete|hazte miembro|"
    r"jetzt abonnieren|abonnieren sie|folgen sie uns|melden sie sich|zum newsletter|"
    r"klicken sie|sie sind (?:aktuell )?nicht eingeloggt|du musst eingeloggt|"
    r"подпишитесь|подписывайтесь|зарегистрируйтесь|войдите)",
    re.IGNORECASE,
)

# A metadata label line: "Category: News", "Tags: a, b", "Photo: …", "© …".
LABEL_LINE = re.compile(
    r"^(?:(?:categor(?:y|ies)|filed under|posted in|tags?|topics?|"
    r"catégories?|étiquettes|mots-clés|categorías?|etiquetas|temas|"
    r"kategorien?|schlagwörter|schlagworte|рубрика|теги|метки|"
    r"photos?|photo credit|image|credits?|crédits? photos?|fotos?|fot\.|bild|titelbild|"
    r"beitragsbild|фото)\s*:\s*\S|©|(?:copyright|\(c\))\s*(?:©|\d{4}))",
    re.IGNORECASE,
)

# The start of a byline date: "Posted on …", "Опубликовано: …"; a date must follow at once.
DATELINE = re.compile(
    r"^(?:posted|published|updated|last updated|last modified|release date|news date|"
    r"publié|mis à jour|publicado|actualizado|veröffentlicht|aktualisiert|letzte änderung|"
    r"опубликовано|обновлено|дата публикации|نشر في|تاريخ النشر)"
    r"\s*(?:on|at|le|am|el|в)?\s*:?\s*",
    re.IGNORECASE,
)

# Share buttons as a line: "Share: Facebook | Twitter — #tags", and nothing else (a short
# line that starts "Share:" can be data: "Share: 45% of votes"). Judged word by word
# (crawlers.extraction.cleaning): one pattern for the whole line backtracked for hours on a
# long line that almost matched.
SHARE_LABEL = re.compile(
    r"^(?:share this|share|partager|compartir|teilen|поделиться|شارك)(?:\s*:\s*|\s+)",
    re.IGNORECASE,
)
NETWORKS = frozenset(
    (
        "facebook", "twitter", "x", "telegram", "whatsapp", "viber", "linkedin", "reddit",
        "pinterest", "email", "e-mail", "print", "vk", "vkontakte", "вконтакте",
        "одноклассники", "ok", "copy", "link",
    )
)  # fmt: skip
LIST_SEPARATORS = re.compile(r"[\s,;|/•·—–]+")
HASHTAG = re.compile(r"#\w+")
