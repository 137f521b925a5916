"""The gateway's ``/docs`` page (Swagger UI over the merged OpenAPI) and the
Content-Security-Policy it needs, which is its own: the rest of the gateway allows no script
from elsewhere.

Swagger UI comes from ``docs_assets_url`` (by default the jsDelivr CDN), pinned to one version
whose files the browser checks against the hashes below (Subresource Integrity), so a changed
file on the CDN is refused instead of run on the gateway's origin. What the page needs, and so
all its policy allows: the bundle, the stylesheet and the icon from that origin, the one inline
script that starts it (by its hash), the icons the stylesheet carries as ``data:`` images, and
requests to the gateway (the OpenAPI document, "Try it out"). Swagger UI sets its inline styles
from script (allowed without 'unsafe-inline'). Checked in headless Chromium with this policy:
loading, expanding an operation, "Try it out" and "Execute", "Authorize", and no violation.
"""

from __future__ import annotations

import base64
import hashlib
import html
from urllib.parse import urlsplit

SWAGGER_UI_VERSION = "5.35.0"
# sha384 of swagger-ui-dist 5.35.0's files, as published on npm (the CDN serves those bytes).
INTEGRITY = {
    "swagger-ui-bundle.js": "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
    "swagger-ui.css": "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
}

# Relative: /docs asks for /openapi.json, also behind a proxy that serves the gateway under a
# path prefix. BaseLayout: no top bar, and no badge fetching an image from the online validator.
_START = (
    "window.ui = SwaggerUIBundle({"
    'url: "openapi.json", '
    'dom_id: "#swagger-ui", '
    'layout: "BaseLayout", '
    "deepLinking: true, "
    "showExtensions: true, "
    "showCommonExtensions: true, "
    "validatorUrl: null, "
    "presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]"
    "});"
)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css" integrity="{css_hash}" crossorigin="anonymous">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js" integrity="{js_hash}" crossorigin="anonymous"></script>
<script>{start}</script>
</body>
</html>
"""


def swagger_page(title: str, assets_url: str) -> tuple[str, str]:
    """(the page, its Content-Security-Policy)."""
    assets = assets_url.rstrip("/")
    parts = urlsplit(assets)
    source = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "'self'"
    page = _PAGE.format(
        title=html.escape(title),
        assets=html.escape(assets),
        css_hash=INTEGRITY["swagger-ui.css"],
        js_hash=INTEGRITY["swagger-ui-bundle.js"],
        start=_START,
    )
    start_hash = base64.b64encode(hashlib.sha256(_START.encode()).digest()).decode()
    policy = (
        "default-src 'none'; "
        f"script-src {source} 'sha256-{start_hash}'; "
        f"style-src {source}; "
        f"img-src 'self' {source} data:; "
        f"font-src {source}; "
        "connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page, policy
