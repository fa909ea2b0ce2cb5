"""Project-wide checks the README promises: clean system checks and no missing migrations."""

import io

import pytest
from django.core.management import call_command


def test_system_checks_are_clean():
    call_command("check", fail_level="WARNING", stdout=io.StringIO())


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    out = io.StringIO()
    try:
        call_command("makemigrations", check=True, dry_run=True, stdout=out)
    except SystemExit:
        pytest.fail(f"makemigrations --check found changes:\n{out.getvalue()}")
