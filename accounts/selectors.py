from django.db.models import QuerySet

from accounts.models import Patient


def patients_of(*, user) -> QuerySet[Patient]:
    """The account's 就诊人 that are still in use (a removed one with history is only deactivated)."""
    return Patient.objects.filter(user=user, is_active=True).order_by("id")
