"""就诊人 (patients an account books for): add, edit, remove, with real-name validation (GB 11643)."""

from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from accounts import errors
from accounts.models import Patient, User

# Apps above accounts (booking) say whether a person still has something under way; accounts
# cannot import them, so they register a check here when they start (booking.apps).
patient_in_use_checks: list[Callable[[Patient], bool]] = []

IDENTITY_FIELDS = ("name", "gender", "birth_date", "id_type", "id_number")
EDITABLE_FIELDS = (*IDENTITY_FIELDS, "relation", "phone")


def _save_validated(patient: Patient) -> Patient:
    """full_clean (document checksum, birth date and gender agree, one person per account), then save."""
    patient.full_clean()
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError as exc:  # two concurrent adds of the same person: the constraint decides
        raise errors.DuplicatePatient() from exc
    return patient


def create_patient(*, user, **fields) -> Patient:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"unknown patient fields: {sorted(unknown)}")
    return _save_validated(Patient(user=user, **fields))


def update_patient(*, patient: Patient, **fields) -> Patient:
    """Contact details may change; a recorded identity may not (bans and limits follow it)."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"unknown patient fields: {sorted(unknown)}")
    changed = {name: value for name, value in fields.items() if getattr(patient, name) != value}
    if "id_number" in changed and str(changed["id_number"]).strip().upper() == patient.id_number:
        del changed["id_number"]  # the same number, written differently
    if patient.has_real_name and changed.keys() & set(IDENTITY_FIELDS):
        raise errors.IdentityLocked()
    for name, value in changed.items():
        setattr(patient, name, value)
    return _save_validated(patient)


def deactivate_patient(*, patient: Patient) -> bool:
    """Remove a 就诊人. One with anything under way is refused; one with history is deactivated
    (the records keep pointing at it); one never used is deleted. True if the row was deleted."""
    if any(check(patient) for check in patient_in_use_checks):
        raise errors.PatientHasAppointments()
    try:
        with transaction.atomic():
            patient.delete()
        return True
    except ProtectedError:
        Patient.objects.filter(pk=patient.pk).update(is_active=False)
        patient.is_active = False
        return False


def set_elderly_mode(*, user, on: bool) -> None:
    """Remember 长辈模式 on the account, so it follows the patient to another browser."""
    User.objects.filter(pk=user.pk).update(elderly_mode=on)
    user.elderly_mode = on
