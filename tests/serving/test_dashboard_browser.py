"""The dashboard in headless Chromium (Debian's, driven by Playwright), with no network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import ROOT, need_module, need_program
from tests.serving.conftest import KEY
from tests.serving.server import Server
from tests.shops import evaluated
from xsell.data.synthetic import SyntheticShop

ARTIFACTS = ROOT / "artifacts"


def test_a_merchandiser_tries_a_basket_rules_and_the_experiment_panel(
    popularity_bundle: Path, pairs_bundle: Path, shop: SyntheticShop, tmp_path: Path
) -> None:
    chromium = need_program("chromium")
    playwright = need_module("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    store = evaluated(shop, tmp_path)
    args = (
        "--experiment", "dash", "--arm", f"pop={popularity_bundle}:50",
        "--arm", f"pairs={pairs_bundle}:50", "--api-key", KEY, "--store", str(store),
        "--events-log", str(tmp_path / "e.jsonl"), "--rate-limit", "0",
    )  # fmt: skip
    with Server(popularity_bundle, *args) as server, playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-first-run"],
        )  # fmt: skip
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        elsewhere: list[str] = []
        errors: list[str] = []
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        def only_the_server(route: Any) -> None:
            if route.request.url.startswith(server.url):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        tab.route("**/*", only_the_server)
        tab.goto(server.url + "/dashboard")
        tab.fill("#key", KEY)
        tab.click("#login button[type=submit]")
        tab.wait_for_selector("#tab-basket")
        # type part of a product name, add two items from the list as it fills
        for n in range(2):
            tab.fill("#search", "item")
            tab.wait_for_selector(f"#search-results li:nth-child({n + 1})")
            tab.click(f"#search-results li:nth-child({n + 1})")
            tab.wait_for_function(f"document.querySelectorAll('#cart li').length === {n + 1}")
        for side in ("left", "right"):
            tab.wait_for_selector(f"#column-{side} tr.suggestion td.reasons:not(:empty)")
        models = [tab.inner_text(f"#column-{side} .status") for side in ("left", "right")]
        reasons = tab.inner_text("#column-left tr.suggestion td.reasons")
        tab.screenshot(path=str(ARTIFACTS / "dashboard-basket.png"), full_page=True)
        before = tab.inner_text("#column-left .trace")
        tab.check("#rule-complements")
        tab.wait_for_selector("#column-left .trace li[data-rule=complements_only]")
        after = tab.inner_text("#column-left .trace")
        tab.screenshot(path=str(ARTIFACTS / "dashboard-rules.png"), full_page=True)
        tab.click("nav button[data-tab=experiment]")
        tab.wait_for_selector("#experiment-arms tr.arm")
        tab.wait_for_selector("#experiment-chart .plot-container.plotly")
        arms = tab.eval_on_selector_all(
            "#experiment-arms tr.arm td:first-child", "cells => cells.map(c => c.textContent)"
        )
        tab.screenshot(path=str(ARTIFACTS / "dashboard-experiment.png"), full_page=True)
        tab.click("nav button[data-tab=item]")
        tab.fill("#item-search", "item")
        tab.click("#item-results li:first-child")
        tab.wait_for_selector("#item-complements tr")
        tab.wait_for_selector("#item-bundles tr")
        complements = tab.locator("#item-complements tr").count()
        tab.click("nav button[data-tab=models]")
        tab.wait_for_selector("#models .model")
        shown = tab.eval_on_selector_all("#models .model h3", "hs => hs.map(h => h.textContent)")
        tab.wait_for_selector("#leaderboard-chart .plot-container.plotly")
        figures = tab.eval_on_selector_all(
            "#headline tr.figure th", "cells => cells.map(c => c.textContent)"
        )
        tab.screenshot(path=str(ARTIFACTS / "dashboard-models.png"), full_page=True)
        tab.click("nav button[data-tab=live]")
        tab.wait_for_function("document.querySelector('#live tbody').children.length > 0")
        live = tab.inner_text("#live")
        tab.screenshot(path=str(ARTIFACTS / "dashboard-live.png"), full_page=True)
        browser.close()
    assert not elsewhere, elsewhere
    assert not errors, errors
    assert models[0].startswith("popularity") and models[1].startswith("cooccurrence")
    assert reasons.strip()
    assert "complements_only" not in before and "complements_only" in after
    assert arms == ["pop", "pairs"]
    assert complements == 10
    assert shown == ["served: popularity", "pairs: cooccurrence"]
    assert {"orders", "revenue", "average order value"} <= set(figures)
    assert "latency p50 / p95 / p99" in live
