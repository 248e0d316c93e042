"""Self-contained reports: every script and stylesheet inlined from files shipped in the package.

The map uses Leaflet and two plugins (fullscreen, measure). Their files, with their licences, are
in ``monitor/report/assets/`` at the exact versions whose CDN addresses an online report links to.
"""

from __future__ import annotations

import base64
import re
from importlib import resources
from importlib.resources.abc import Traversable

from monitor.errors import ReportError

LEAFLET_JS_URL = "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js"
LEAFLET_CSS_URL = "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.css"

#: CDN address -> shipped file (relative to assets/). The fullscreen and measure addresses are
#: the ones folium's plugins declare.
ASSETS: dict[str, str] = {
    LEAFLET_JS_URL: "leaflet/leaflet.js",
    LEAFLET_CSS_URL: "leaflet/leaflet.css",
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.min.js": (
        "leaflet.fullscreen/Control.FullScreen.js"
    ),
    "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0/Control.FullScreen.css": (
        "leaflet.fullscreen/Control.FullScreen.css"
    ),
    "https://cdn.jsdelivr.net/gh/ljagis/leaflet-measure@2.1.7/dist/leaflet-measure.min.js": (
        "leaflet-measure/leaflet-measure.min.js"
    ),
    "https://cdn.jsdelivr.net/gh/ljagis/leaflet-measure@2.1.7/dist/leaflet-measure.min.css": (
        "leaflet-measure/leaflet-measure.css"
    ),
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


def inline_assets(html: str) -> str:
    """Return ``html`` with every known CDN script and stylesheet replaced by its shipped copy.

    Raises ReportError for a remote script or stylesheet that is not shipped, rather than write
    a report that silently needs the network.
    """

    def script(match: re.Match[str]) -> str:
        url = match.group(1)
        if not url.startswith(("http:", "https:", "//")):
            return match.group(0)
        if url not in ASSETS:
            raise ReportError(f"offline report: script {url} is not shipped with the monitor")
        return script_block(asset_text(ASSETS[url]))

    def link(match: re.Match[str]) -> str:
        url = match.group(1)
        if not url.startswith(("http:", "https:", "//")):
            return match.group(0)
        if url not in ASSETS:
            raise ReportError(f"offline report: stylesheet {url} is not shipped with the monitor")
        path = ASSETS[url]
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
