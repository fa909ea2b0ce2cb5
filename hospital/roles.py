"""Staff roles and the Django permission groups behind them.

A HospitalStaff row says *which* hospital a user works for (the admin scopes every list to
it); the role's group says *what* they may do there. Groups are derived from the apps'
models at call time, so a model added later is covered the next time they are synced.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError
from hospital import audit
from hospital.models import AuditRecord, Doctor, Hospital, HospitalStaff


class StaffChangeRefused(DomainError):
    code = "staff_change_refused"
    status = 403
    message = _("只有超级管理员或本院医院管理员可以调整本院工作人员的角色。")


ROLE_GROUP_NAMES = {
    HospitalStaff.Role.HOSPITAL_ADMIN: "医院管理员",
    HospitalStaff.Role.SCHEDULER: "号源管理员",
    HospitalStaff.Role.FRONT_DESK: "挂号窗口",
    HospitalStaff.Role.DOCTOR: "医生",
}

# role → {app_label: actions on every model of the app}, plus (app_label, model) extras.
_ROLE_APP_ACTIONS = {
    HospitalStaff.Role.HOSPITAL_ADMIN: {
        "hospital": ("view", "change"),
        "scheduling": ("view", "change"),
        "booking": ("view", "change"),
    },
    HospitalStaff.Role.SCHEDULER: {
        "hospital": ("view",),
        "scheduling": ("view", "change"),
        "booking": ("view",),
    },
    HospitalStaff.Role.FRONT_DESK: {
        "hospital": ("view",),
        "scheduling": ("view",),
        "booking": ("view", "change"),
    },
    # A doctor works on the desk's doctor screen (their own sessions and patients only), never
    # on the admin's hospital-wide lists.
    HospitalStaff.Role.DOCTOR: {},
}
_ROLE_EXTRA = {
    HospitalStaff.Role.HOSPITAL_ADMIN: [
        ("hospital", "department", ("add", "delete")),
        ("hospital", "doctor", ("add",)),
        ("hospital", "bookingrules", ("add",)),
        ("scheduling", "scheduletemplate", ("add", "delete")),
        ("scheduling", "schedule", ("add",)),
        ("partners", "hospitalgrant", ("view", "add")),  # allowing partner platforms (partners/)
        ("desk", "suspensionrequest", ("view", "change")),
        ("desk", "dailystatistics", ("view",)),
        ("analytics", "attemptminute", ("view",)),  # 分析报告 (analytics/): queues, chances, fairness
    ],
    HospitalStaff.Role.SCHEDULER: [
        ("scheduling", "scheduletemplate", ("add", "delete")),
        ("scheduling", "schedule", ("add",)),
        ("desk", "suspensionrequest", ("view", "change")),
        ("analytics", "attemptminute", ("view",)),
    ],
    HospitalStaff.Role.FRONT_DESK: [],
    HospitalStaff.Role.DOCTOR: [],
}


def role_permissions(role: str):
    """The Permission rows a role's group holds."""
    condition = Q(pk__in=[])
    for app_label, actions in _ROLE_APP_ACTIONS[role].items():
        for action in actions:
            condition |= Q(content_type__app_label=app_label, codename__startswith=f"{action}_")
    for app_label, model, actions in _ROLE_EXTRA[role]:
        codenames = [f"{action}_{model}" for action in actions]
        condition |= Q(content_type__app_label=app_label, content_type__model=model, codename__in=codenames)
    return Permission.objects.filter(condition)


@transaction.atomic
def sync_role_groups() -> dict[str, Group]:
    """Create or refresh one group per role; returns them by role."""
    groups = {}
    for role, name in ROLE_GROUP_NAMES.items():
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set(role_permissions(role))
        groups[role] = group
    return groups


@transaction.atomic
def assign_staff_role(
    *, user, hospital: Hospital, role: str, doctor: Doctor | None = None, departments=None
) -> HospitalStaff:
    """Make `user` staff of `hospital` with `role`: admin access, scoping row and role group.

    A doctor account is linked to its `Doctor`; a scheduler manages the `departments` given
    (None leaves them as they are).
    """
    if role == HospitalStaff.Role.DOCTOR and (doctor is None or doctor.hospital_id != hospital.pk):
        raise StaffChangeRefused(_("医生账号必须对应本院的一位医生。"))
    doctor = doctor if role == HospitalStaff.Role.DOCTOR else None
    staff, _created = HospitalStaff.objects.update_or_create(
        user=user, defaults={"hospital": hospital, "role": role, "doctor": doctor}
    )
    if departments is not None:
        staff.departments.set([d for d in departments if d.hospital_id == hospital.pk])
    group, _created = Group.objects.get_or_create(name=ROLE_GROUP_NAMES[role])
    if not group.permissions.exists():
        group.permissions.set(role_permissions(role))
    other_roles = Group.objects.filter(name__in=ROLE_GROUP_NAMES.values()).exclude(pk=group.pk)
    user.groups.remove(*other_roles)
    user.groups.add(group)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return staff


def staff_role(*, user, hospital_id: int) -> str | None:
    """The user's role at the hospital ("superuser" for superusers), or None for outsiders.

    Read from the database, never from a scoped queryset: the one answer to "may this user act
    for this hospital" for services, admin actions and staff screens alike.
    """
    if user.is_superuser:
        return "superuser"
    return HospitalStaff.objects.filter(user_id=user.pk, hospital_id=hospital_id).values_list("role", flat=True).first()


def staff_of(user) -> HospitalStaff | None:
    """The user's staff row (with its doctor), read from the database; None for everyone else."""
    if not user.is_authenticated:
        return None
    return HospitalStaff.objects.select_related("doctor", "hospital").filter(user_id=user.pk).first()


def doctor_id_of(*, user, hospital_id: int) -> int | None:
    """The Doctor a doctor-role account stands for at that hospital, else None."""
    return (
        HospitalStaff.objects.filter(user_id=user.pk, hospital_id=hospital_id, role=HospitalStaff.Role.DOCTOR)
        .values_list("doctor_id", flat=True)
        .first()
    )


def scheduler_department_ids(user) -> set[int] | None:
    """The departments a scheduler is limited to; None means no limit (every other role, and a
    scheduler given no departments, who manages the whole hospital's sessions as before)."""
    if user.is_superuser or not user.is_authenticated:
        return None
    departments = set(
        HospitalStaff.departments.through.objects.filter(
            hospitalstaff__user_id=user.pk, hospitalstaff__role=HospitalStaff.Role.SCHEDULER
        ).values_list("department_id", flat=True)
    )
    return departments or None


def may_manage_schedule(*, user, hospital_id: int, department_id: int) -> bool:
    """停诊, 加号 and schedule changes: the hospital's admins, and schedulers of that department."""
    role = staff_role(user=user, hospital_id=hospital_id)
    if role in ("superuser", HospitalStaff.Role.HOSPITAL_ADMIN):
        return True
    if role == HospitalStaff.Role.SCHEDULER:
        departments = scheduler_department_ids(user)
        return departments is None or department_id in departments
    return False


def works_at(user, hospital_id: int) -> bool:
    """Whether the user is staff of that hospital (superusers work everywhere)."""
    return staff_role(user=user, hospital_id=hospital_id) is not None


def may_manage_staff(*, user, hospital_id: int) -> bool:
    """Superusers, and the hospital's own hospital_admin, may set roles of that hospital's staff."""
    return staff_role(user=user, hospital_id=hospital_id) in ("superuser", HospitalStaff.Role.HOSPITAL_ADMIN)


def may_waive_penalties(*, user, hospital_id: int) -> bool:
    """Waiving a 失信 record (which also lifts the ban it caused) is for hospital_admin and superusers."""
    return staff_role(user=user, hospital_id=hospital_id) in ("superuser", HospitalStaff.Role.HOSPITAL_ADMIN)


@transaction.atomic
def change_staff_role(
    *,
    staff: HospitalStaff,
    hospital: Hospital,
    role: str,
    by,
    doctor: Doctor | None = None,
    departments=None,
    reason: str = "",
) -> HospitalStaff:
    """Move an existing staff row to `role` (and, for superusers, another hospital) and re-assign its group.

    The row keeps its user: a staff row is never re-pointed at another account. Nobody gets more
    than a role: roles top out at hospital_admin, and a hospital_admin acts only inside their
    own hospital.
    """
    current = HospitalStaff.objects.select_for_update().get(pk=staff.pk)
    if staff.user_id != current.user_id:
        raise StaffChangeRefused(_("工作人员记录创建后不能改为其他账号。"))
    if role not in HospitalStaff.Role.values:
        raise StaffChangeRefused(_("无效的角色。"))
    for hospital_id in (current.hospital_id, hospital.pk):
        if not may_manage_staff(user=by, hospital_id=hospital_id):
            raise StaffChangeRefused()
    before_departments = sorted(current.departments.values_list("name", flat=True))
    changed = assign_staff_role(user=current.user, hospital=hospital, role=role, doctor=doctor, departments=departments)
    changes = audit.field_changes(current, changed, ["hospital", "role", "doctor"])
    after_departments = sorted(changed.departments.values_list("name", flat=True))
    if after_departments != before_departments:
        changes["departments"] = [before_departments, after_departments]
    for hospital_id in {current.hospital_id, hospital.pk}:
        audit.record(
            hospital_id=hospital_id,
            actor=by,
            action=AuditRecord.Action.STAFF_ROLE_CHANGED,
            target=changed,
            changes=changes,
            reason=reason,
        )
    return changed
