"""The audit trail: `record(...)` writes one AuditRecord inside the caller's transaction.

It sits in hospital, low in the chain, so scheduling, booking, partners and desk can all call
it. It refuses to run outside a transaction: a record must commit (or roll back) with the
change it describes.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from hospital.models import AuditRecord

Action = AuditRecord.Action


class AuditOutsideTransaction(RuntimeError):
    """A service wrote an audit record outside a transaction: a bug, not a user error."""


def actor_name(user) -> str:
    if user is None:
        return _("系统")
    return str(getattr(user, "name", "") or user)[:100]


def record(
    *,
    hospital_id: int,
    actor,
    action: str,
    target=None,
    target_type: str = "",
    target_id="",
    target_repr: str = "",
    changes: dict | None = None,
    reason: str = "",
) -> AuditRecord:
    """Record that `actor` (None: the clock) did `action` to `target` (a model instance, or named by type/id/repr)."""
    if not transaction.get_connection().in_atomic_block:
        raise AuditOutsideTransaction("hospital.audit.record must run inside the change's transaction")
    if target is not None:
        target_type = target_type or target._meta.label
        target_id = target_id or target.pk
        target_repr = target_repr or str(target)
    return AuditRecord.objects.create(
        hospital_id=hospital_id,
        actor=actor if actor is not None and actor.pk else None,
        actor_name=actor_name(actor),
        action=action,
        target_type=target_type[:60],
        target_id=str(target_id or "")[:40],
        target_repr=str(target_repr)[:200],
        changes=changes or {},
        reason=(reason or "")[:200],
    )


def field_changes(before, after, fields) -> dict:
    """{field: [old, new]} for the fields that differ between two instances (JSON-safe values)."""
    changed = {}
    for name in fields:
        old, new = getattr(before, name, None), getattr(after, name, None)
        if old != new:
            changed[name] = [_json(old), _json(new)]
    return changed


def _json(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value)
    return str(value)


class AuditedSaveMixin:
    """For a ModelAdmin: each save through the form is audited, with the fields it changed, in one transaction.

    `audit_action` names the action; the hospital comes from the admin's hospital path.
    """

    audit_action = AuditRecord.Action.SCHEDULE_CHANGED

    def save_model(self, request, obj, form, change):
        from hospital.admin_scope import hospital_path

        with transaction.atomic():
            before = type(obj).objects.filter(pk=obj.pk).first() if change else None
            super().save_model(request, obj, form, change)
            names = [name for name in form.changed_data if name in form.fields] if change else list(form.fields)
            changes = (
                field_changes(before, obj, names)
                if before
                else {n: [None, _json(getattr(obj, n, None))] for n in names}
            )
            hospital_id = type(obj).objects.filter(pk=obj.pk).values_list(hospital_path(type(obj)), flat=True).first()
            record(
                hospital_id=hospital_id,
                actor=request.user,
                action=self.audit_action,
                target=obj,
                changes=changes,
            )
