"""Helpers for the browser tests (fixtures `phone_page`, `desktop_page` live in the root conftest).

`screenshot(page, name)` saves a full-page PNG under var/screenshots/ (git-ignored) for a person
to look at; `axe_violations(page)` injects axe-core (node_modules, installed by `make test`) and
returns the serious and critical violations.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def axe_violations(page, impacts=("serious", "critical")):
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v.get("impact") in impacts]
