"""URL normalisation: one spelling per page, so that "new" means "not seen before"."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, safe_url_string

# Query parameters that identify a visitor or a campaign, never a page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "igshid",
        "ref",
        "ref_src",
        "utm_id",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
DEFAULT_PORTS = {"http": 80, "https": 443}
# The longest URL the database stores (storage.models.URL_LENGTH, which this must equal; a
# test says so): PostgreSQL refuses a longer one, so the crawl never follows nor keeps one.
MAX_URL_LENGTH = 2048


def fits(url: str) -> bool:
    """Short enough to be stored (MAX_URL_LENGTH), as it is and as :func:`normalize_url`
    spells it, which can be longer (a bare query parameter gains its "=")."""
    if len(url) > MAX_URL_LENGTH:
        return False
    try:
        return len(normalize_url(url)) <= MAX_URL_LENGTH
    except ValueError:  # a malformed host or port: refused where it is read, not here
        return True


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


@lru_cache(maxsize=16384)  # a crawl normalises each URL several times (plan, ledger, store)
def normalize_url(url: str) -> str:
    """Lower-case scheme and host, drop fragments, default ports, tracking
    parameters and trailing slashes; sort the remaining query."""
    parts = urlsplit(safe_url_string(url.strip()))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    rebuilt = urlunsplit((scheme, netloc, path, urlencode(query), ""))
    return canonicalize_url(rebuilt, keep_fragments=False)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def registered_domain(host: str) -> str:
    """The site's domain without a leading ``www.``, used to decide what is on-site."""
    return host[4:] if host.startswith("www.") else host


def is_http_url(url: str) -> bool:
    try:
        return urlsplit(url).scheme in ("http", "https")
    except ValueError:  # a broken IPv6 host ("http://[::1/"): no URL to follow
        return False


def link_url(base: str, href: str) -> str | None:
    """What a link on the page ``base`` asks for (:func:`clean_url`); None for one that cannot
    be read, such as a port past 65535 or a broken IPv6 host: that link is skipped, never the
    page that holds it."""
    try:
        url = clean_url(urljoin(base, href))
        urlsplit(url).port  # noqa: B018 - read to raise ValueError for a port out of range
    except ValueError:
        return None
    return url


def clean_url(url: str) -> str:
    """The URL to request: as linked, less its fragment and tracking parameters."""
    parts = urlsplit(url.strip())
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))


STANDARD_PORTS = frozenset({None, 80, 443})


def on_site(url: str, domains: Sequence[str]) -> bool:
    """http(s), on one of ``domains`` or a subdomain of one, and on its port; nothing else
    is followed. A bare domain allows the standard ports only, ``host:port`` that port only,
    so a link to another service on the same machine is off-site."""
    if not is_http_url(url):
        return False
    try:
        port = urlsplit(url).port
    except ValueError:
        return False
    host = host_of(url)
    return any(_covers(domain, host, port) for domain in domains)


def domain_host(domain: str) -> str:
    """The host, lower-cased, that a source's domain (``example.org`` or ``host:port``) names."""
    return (urlsplit("//" + domain).hostname or "").lower()


def _covers(domain: str, host: str, port: int | None) -> bool:
    name = domain_host(domain)
    if not (host == name or host.endswith("." + name)):
        return False
    allowed_port = urlsplit("//" + domain).port  # read only for the domain's own hosts
    return port in STANDARD_PORTS if allowed_port is None else port == allowed_port
