"""The report's map libraries: pinned by hash when loaded from a CDN, inlined when offline.

The map uses Leaflet and two plugins (fullscreen, measure). Their files, with their licences, are
in ``monitor/report/assets/``, byte for byte the files at the CDN addresses an online report links
to, so an online report carries each file's subresource-integrity hash (the browser refuses a
file the CDN would serve changed) and an offline report inlines them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from importlib.resources.abc import Traversable

from monitor.errors import ReportError

LEAFLET_JS_URL = "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js"
LEAFLET_CSS_URL = "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.css"

_FULLSCREEN = "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0"
_MEASURE = "https://cdn.jsdelivr.net/gh/ljagis/leaflet-measure@2.1.7/dist"

#: CDN address -> shipped file (relative to assets/): the same bytes (Leaflet's own published
#: hashes, and the plugins' release tags, say so).
ASSETS: dict[str, str] = {
    LEAFLET_JS_URL: "leaflet/leaflet.js",
    LEAFLET_CSS_URL: "leaflet/leaflet.css",
    f"{_FULLSCREEN}/Control.FullScreen.js": "leaflet.fullscreen/Control.FullScreen.js",
    f"{_FULLSCREEN}/Control.FullScreen.css": "leaflet.fullscreen/Control.FullScreen.css",
    f"{_MEASURE}/leaflet-measure.min.js": "leaflet-measure/leaflet-measure.min.js",
    f"{_MEASURE}/leaflet-measure.css": "leaflet-measure/leaflet-measure.css",
}
#: Addresses folium's plugins declare -> the address of the file they stand for. Those two
#: files do not exist in the packages: the CDN minifies them on the fly, in bytes nobody can
#: pin, so the originals are loaded instead.
_PLUGIN_ADDRESSES: dict[str, str] = {
    f"{_FULLSCREEN}/Control.FullScreen.min.js": f"{_FULLSCREEN}/Control.FullScreen.js",
    f"{_MEASURE}/leaflet-measure.min.css": f"{_MEASURE}/leaflet-measure.css",
}

_MIME = {".png": "image/png", ".svg": "image/svg+xml"}
_SCRIPT_TAG = re.compile(r"""<script\b[^>]*?\bsrc\s*=\s*["']([^"']+)["'][^>]*>\s*</script>""", re.I)
_LINK_TAG = re.compile(r"""<link\b[^>]*?\bhref\s*=\s*["']([^"']+)["'][^>]*?/?>""", re.I)
_CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)""")
_REMOTE_REF = re.compile(
    r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)""",
    re.I,
)


def asset(path: str) -> Traversable:
    """Return the shipped asset file at ``path`` (relative to ``monitor/report/assets``)."""
    return resources.files("monitor.report").joinpath("assets", *path.split("/"))


def data_uri(path: str) -> str:
    """Return a shipped image as a ``data:`` URI."""
    suffix = "." + path.rsplit(".", 1)[-1].lower()
    encoded = base64.b64encode(asset(path).read_bytes()).decode("ascii")
    return f"data:{_MIME[suffix]};base64,{encoded}"


def asset_text(path: str) -> str:
    """Return the text of a shipped asset."""
    return asset(path).read_text(encoding="utf-8")


def script_block(js: str) -> str:
    """Return ``js`` as an inline <script> element that no "</script" inside can end early."""
    return "<script>\n" + re.sub(r"</(script)", r"<\\/\1", js, flags=re.I) + "\n</script>"


def style_block(css: str) -> str:
    """Return ``css`` as an inline <style> element."""
    return "<style>\n" + re.sub(r"</(style)", r"<\\/\1", css, flags=re.I) + "\n</style>"


def _css_with_data_uris(css: str, css_path: str) -> str:
    folder = css_path.rsplit("/", 1)[0]

    def replace(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref.startswith(("data:", "#")):
            return match.group(0)
        suffix = "." + ref.rsplit(".", 1)[-1].lower()
        target = asset(f"{folder}/{ref}")
        if suffix not in _MIME or not target.is_file():
            raise ReportError(
                f"{css_path}: cannot inline {ref!r}; the shipped assets are incomplete"
            )
        return f'url("{data_uri(f"{folder}/{ref}")}")'

    return _CSS_URL.sub(replace, css)


def integrity(path: str) -> str:
    """Return the subresource-integrity value of a shipped asset (``sha384-...``)."""
    digest = hashlib.sha384(asset(path).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")


def _shipped(url: str, what: str) -> str:
    url = _PLUGIN_ADDRESSES.get(url, url)
    if url not in ASSETS:
        raise ReportError(f"report: {what} {url} is not shipped with the monitor")
    return url


def pin_assets(html: str) -> str:
    """Return ``html`` with every CDN script and stylesheet carrying its integrity hash.

    Raises ReportError for a remote script or stylesheet that is not shipped (its hash is not
    known), rather than write a report that would run whatever that address serves.
    """

    def pinned(match: re.Match[str], attribute: str, what: str) -> str:
        url = match.group(1)
        if not url.startswith(("http:", "https:", "//")):
            return match.group(0)
        address = _shipped(url, what)
        tag = match.group(0).replace(url, address, 1)
        name = "script" if what == "script" else "link"
        return tag.replace(
            f"<{name}",
            f'<{name} integrity="{integrity(ASSETS[address])}" crossorigin="anonymous"',
            1,
        )

    html = _SCRIPT_TAG.sub(lambda m: pinned(m, "src", "script"), html)
    return _LINK_TAG.sub(lambda m: pinned(m, "href", "stylesheet"), html)


def inline_assets(html: str) -> str:
    """Return ``html`` with every known CDN script and stylesheet replaced by its shipped copy.

    Raises ReportError for a remote script or stylesheet that is not shipped, rather than write
    a report that silently needs the network.
    """

    def script(match: re.Match[str]) -> str:
        url = match.group(1)
        if not url.startswith(("http:", "https:", "//")):
            return match.group(0)
        return script_block(asset_text(ASSETS[_shipped(url, "script")]))

    def link(match: re.Match[str]) -> str:
        url = match.group(1)
        if not url.startswith(("http:", "https:", "//")):
            return match.group(0)
        path = ASSETS[_shipped(url, "stylesheet")]
        return style_block(_css_with_data_uris(asset_text(path), path))

    html = _SCRIPT_TAG.sub(script, html)
    html = _LINK_TAG.sub(link, html)
    remaining = remote_references(html)
    if remaining:
        raise ReportError(f"offline report still references {remaining[0]}")
    return html


def remote_references(html: str) -> list[str]:
    """Return the network addresses that scripts, stylesheets, images or frames load from."""
    return _REMOTE_REF.findall(html)
