"""``/docs`` works on a closed network: Swagger UI's assets come from the server itself."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from tests.conftest import need_module, need_program
from tests.serving.conftest import KEY
from tests.serving.server import Server

Client = Callable[..., TestClient]


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(
        r"""url:\s*['"]([^'"]+)['"]""", html
    )


def test_docs_pages_reference_only_assets_the_server_serves(
    make_client: Client, popularity_bundle: Path
) -> None:
    client = make_client(popularity_bundle)
    for page, needed in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc")):
        got = client.get(page)
        assert got.status_code == 200
        urls = _asset_urls(got.text)
        assert any(needed in url for url in urls), urls
        for url in urls:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc, f"{page} loads {url} from elsewhere"
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 0, url
    script = client.get(next(u for u in _asset_urls(client.get("/docs").text) if u.endswith(".js")))
    assert b"SwaggerUIBundle" in script.content


def test_swagger_ui_renders_the_operations_in_chromium_with_no_network(
    popularity_bundle: Path, tmp_path: Path
) -> None:
    chromium = need_program("chromium")
    playwright = need_module("playwright.sync_api")
    args = ("--api-key", KEY, "--events-log", str(tmp_path / "e.jsonl"))
    with Server(popularity_bundle, *args) as server, playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-first-run"],
        )  # fmt: skip
        tab = browser.new_page()
        elsewhere: list[str] = []
        errors: list[str] = []
        tab.on("pageerror", lambda e: errors.append(str(e)))

        def only_the_server(route: object) -> None:
            url = route.request.url  # type: ignore[attr-defined]
            if url.startswith(server.url):
                route.continue_()  # type: ignore[attr-defined]
            else:
                elsewhere.append(url)
                route.abort()  # type: ignore[attr-defined]

        tab.route("**/*", only_the_server)
        tab.goto(server.url + "/docs")
        tab.wait_for_selector(".opblock", timeout=60_000)
        paths = tab.eval_on_selector_all(
            ".opblock-summary-path", "nodes => nodes.map(n => n.getAttribute('data-path'))"
        )
        browser.close()
    assert not elsewhere, elsewhere
    assert not errors, errors
    assert {"/v1/recommendations/basket", "/v1/events", "/admin/reload"} <= set(paths), paths
