"""Dependencies point one way: accounts ← hospital ← scheduling ← booking ← (partners, desk, …).

payments and notifications are leaves beside the chain: they stand on accounts only and know
nothing of hospitals, schedules or bookings. demo seeds every app, so it sits above them all.
Every import counts, also one inside a function; tests may reach across (factories).
"""

import ast
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
ABOVE_BOOKING = {"partners", "desk", "interop", "analytics", "bench", "demo"}
# What each app must never import.
FORBIDDEN = {
    "accounts": {"hospital", "scheduling", "booking", "payments", "notifications"} | ABOVE_BOOKING,
    "hospital": {"scheduling", "booking", "payments", "notifications"} | ABOVE_BOOKING,
    "scheduling": {"booking", "payments", "notifications"} | ABOVE_BOOKING,
    "booking": ABOVE_BOOKING,
    "payments": {"hospital", "scheduling", "booking", "notifications"} | ABOVE_BOOKING,
    "notifications": {"hospital", "scheduling", "booking", "payments"} | ABOVE_BOOKING,
}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """The top-level package of every absolute import in a file, with its line."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def source_files(app: str) -> list[Path]:
    return [path for path in sorted((ROOT / app).rglob("*.py")) if "tests" not in path.relative_to(ROOT).parts]


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_app_imports_nothing_above_it(app):
    files = source_files(app)
    assert files, f"no sources found for {app}"
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {package}"
        for path in files
        for package, line in sorted(imported_packages(path))
        if package in FORBIDDEN[app]
    ]
    assert wrong == []


def test_the_walk_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from notifications.services import send_sms\n    import booking.models\n")
    assert imported_packages(module) == {("notifications", 2), ("booking", 3)}


def test_demo_seeding_lives_above_the_apps():
    from django.core.management import get_commands

    assert get_commands()["seed_demo"] == "demo"


def test_one_home_for_the_phone_hash():
    """Only accounts.pii builds a phone's lookup hash; every other module calls pii.phone_hash."""
    copies = [
        str(path.relative_to(ROOT))
        for app in FORBIDDEN
        for path in source_files(app)
        if 'lookup_hash("phone"' in path.read_text() and path != ROOT / "accounts" / "pii.py"
    ]
    assert copies == []
