"""No module imports another module's `_private` name.

ruff's PLC2701 (on in pyproject.toml) catches this between top-level packages only: it treats
every import inside one package (booking.allocation from booking.services) as private to it.
This test closes that gap for the whole repository.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
SKIP = {".venv", "var", "migrations", "node_modules", ".git"}


def _modules():
    for path in ROOT.rglob("*.py"):
        if not SKIP.intersection(path.relative_to(ROOT).parts):
            yield path


def test_no_module_imports_another_modules_private_name():
    offenders = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{alias.name}")
    assert offenders == []


def test_the_booking_core_modules_are_public():
    from booking import eligibility, places

    for module, names in [
        (places, ["lock_person", "try_lock_person", "lock_slots", "read_schedule_fenced", "take_place"]),
        (places, ["give_back_place", "assign_number", "place_appointment", "new_order_no", "lock_appointment"]),
        (eligibility, ["check_actor", "check_timing", "check_person", "schedule_rules", "require_staff"]),
    ]:
        for name in names:
            assert callable(getattr(module, name)), name
