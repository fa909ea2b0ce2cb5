"""Patient pages that show sessions and places: a department (its doctors and 最近可约), a doctor's
booking window, and the search (doctor, department or symptom). They live here, not in hospital,
because they read schedules (hospital stands below scheduling). Booking itself is /book/<slot_id>/
(booking.views)."""

import datetime
from dataclasses import dataclass, field

from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.money import fen_to_yuan
from hospital import selectors as hospital_selectors
from hospital.triage import departments_for_symptom, emergency_notice
from scheduling import selectors
from scheduling.models import AllocationPolicy, Schedule

MAX_DOCTORS = 30
MAX_SEARCH_RESULTS = 20

POLICY_LINES = {
    AllocationPolicy.FCFS: _("先到先得：放号后按提交先后分配，约满为止。"),
    AllocationPolicy.LOTTERY: _("抽签：报名截止前提交申请即可，与提交早晚无关；截止后随机抽签，结果短信通知。"),
    AllocationPolicy.PRIORITY: _(
        "优先：报名截止前提交申请；截止后按病情紧急程度、年龄和等待时间综合评分分配，同分抽签。"
    ),
}


@dataclass
class Session:
    schedule: Schedule
    released: bool
    requests_closed: bool
    fee_yuan: str
    policy_line: str
    segments: list = field(default_factory=list)


@dataclass
class Day:
    date: datetime.date
    sessions: list[Session] = field(default_factory=list)


def department_detail(request, code: str, department_id: int):
    department = hospital_selectors.open_department(hospital_code=code, department_id=department_id)
    if department is None:
        raise Http404
    now = timezone.now()
    node = _find(hospital_selectors.open_department_tree(hospital=department.hospital), department.pk)
    ids = [department.pk, *(child.pk for child in _descendants(node))]
    doctors = selectors.with_next_available_date(hospital_selectors.doctors_in_departments(department_ids=ids), now=now)
    return render(
        request,
        "scheduling/department_detail.html",
        {
            "hospital": department.hospital,
            "department": department,
            "children": node.tree_children if node else [],
            "doctors": list(doctors[:MAX_DOCTORS]),
            "next_slots": list(selectors.next_free_slots(department_ids=ids, now=now)),
        },
    )


def _find(roots, department_id: int):
    """The department's node in the one-query tree (None under a closed parent)."""
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node.pk == department_id:
            return node
        stack.extend(node.tree_children)
    return None


def _descendants(node) -> list:
    found, stack = [], list(node.tree_children) if node else []
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(child.tree_children)
    return found


def doctor_detail(request, doctor_id: int):
    doctor = get_object_or_404(hospital_selectors.doctors_for_patients(), pk=doctor_id)
    now = timezone.now()
    today = timezone.localdate()
    rules = hospital_selectors.rules_for(hospital_id=doctor.hospital_id, doctor_id=doctor.pk)
    last_day = today + datetime.timedelta(days=rules.days_ahead)
    days = {
        today + datetime.timedelta(days=n): Day(date=today + datetime.timedelta(days=n))
        for n in range(rules.days_ahead + 1)
    }
    for schedule in selectors.schedules_for_patients(doctor_id=doctor.pk, date_from=today, date_to=last_day):
        if schedule.end_at <= now:
            continue
        session = Session(
            schedule=schedule,
            released=schedule.release_at <= now,
            requests_closed=bool(schedule.request_closes_at and schedule.request_closes_at <= now),
            fee_yuan=fen_to_yuan(schedule.fee_fen),
            policy_line=str(POLICY_LINES[schedule.allocation_policy]),
            segments=[slot for slot in schedule.open_slots if slot.start_at > now],
        )
        days[schedule.date].sessions.append(session)
    return render(
        request,
        "scheduling/doctor_detail.html",
        {
            "hospital": doctor.hospital,
            "doctor": doctor,
            "rules": rules,
            "days": list(days.values()),
            "policies": [(label, POLICY_LINES[value]) for value, label in AllocationPolicy.choices],
        },
    )


def search(request):
    """导诊 and search: a doctor's name or specialty, a department's name, or a symptom."""
    text = request.GET.get("q", "").strip()[:100]
    hospital = None
    if request.GET.get("hospital"):
        hospital = hospital_selectors.active_hospital_by_code(code=request.GET["hospital"])
    context = {"q": text, "search_hospital": hospital, "notice": emergency_notice()}
    if text:
        doctors = hospital_selectors.doctors_named(text=text)
        departments = hospital_selectors.departments_named(text=text, hospital=hospital, limit=MAX_SEARCH_RESULTS)
        if hospital is not None:
            doctors = doctors.filter(hospital=hospital)
        triage = departments_for_symptom(hospital_id=hospital.pk if hospital else None, text=text)
        context.update(
            doctors=list(selectors.with_next_available_date(doctors, now=timezone.now())[:MAX_SEARCH_RESULTS]),
            departments=list(departments),
            matches=triage.results,
            searched=True,
        )
    return render(request, "scheduling/search.html", context)
