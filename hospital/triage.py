"""导诊: from what a patient types (胸闷, 孩子发烧, 膝盖疼) to the departments that see it.

Only "which department": the curated `TriageKeyword` table maps keywords to department types,
and every answer carries the emergency notice. Two queries whatever the data size: the
matching keywords, then the departments of those types with their next available days.
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import F, Min, Q, QuerySet, Value
from django.db.models.functions import Lower, StrIndex
from django.utils import timezone
from django.utils.translation import gettext as _

from hospital.models import Department, TriageKeyword

MAX_RESULTS = 20


def emergency_notice() -> str:
    return _("如遇胸痛、呼吸困难、大出血等紧急情况，请立即拨打120或前往急诊。")


@dataclass
class DepartmentMatch:
    department: Department
    score: int
    keywords: list[str]
    next_available_date: datetime.date | None


@dataclass
class TriageAnswer:
    notice: str
    results: list[DepartmentMatch] = field(default_factory=list)


def _matching_keywords(*, text: str, age: int | None):
    """Active keywords found in `text` (case-insensitive), restricted to `age` when it is given."""
    rows = (
        TriageKeyword.objects.filter(is_active=True)
        .annotate(at=StrIndex(Value(text.casefold()), Lower("keyword")))
        .filter(at__gt=0)
    )
    if age is not None:
        rows = rows.filter(Q(min_age__isnull=True) | Q(min_age__lte=age), Q(max_age__isnull=True) | Q(max_age__gte=age))
    return rows.values_list("keyword", "department_kind", "weight")


# scheduling.models.Schedule.Status.PUBLISHED: hospital stands below scheduling and may not import
# it, so the next available day is read through the reverse relations Department.schedules → slots.
PUBLISHED = "published"


def with_next_available_date(departments: QuerySet[Department], *, now: datetime.datetime) -> QuerySet[Department]:
    """Annotate `next_available_date`: the earliest day of a published session, not over yet, of an
    active doctor, with an online place left (it may not be released (放号) yet: the day to aim for)."""
    open_place = Q(
        schedules__status=PUBLISHED,
        schedules__end_at__gt=now,
        schedules__doctor__is_active=True,
        schedules__slots__is_open=True,
        schedules__slots__online_booked__lt=F("schedules__slots__online_capacity"),
    )
    return departments.annotate(next_available_date=Min("schedules__date", filter=open_place))


def departments_for_symptom(
    *, hospital_id: int | None = None, text: str, age: int | None = None, now: datetime.datetime | None = None
) -> TriageAnswer:
    """The departments of one hospital (or of every open hospital) for a symptom, best first.

    A department type scores the summed weights of its matching keywords; departments rank by
    score, then the earliest next available day, then the hospital's own order.
    """
    now = now or timezone.now()
    answer = TriageAnswer(notice=emergency_notice())
    text = text.strip()
    if not text:
        return answer
    scores: dict[str, int] = {}
    matched: dict[str, list[str]] = {}
    for keyword, kind, weight in _matching_keywords(text=text, age=age):
        scores[kind] = scores.get(kind, 0) + weight
        matched.setdefault(kind, []).append(keyword)
    if not scores:
        return answer
    departments = Department.objects.filter(kind__in=scores, is_active=True, hospital__is_active=True).select_related(
        "hospital", "parent"
    )
    if hospital_id is not None:
        departments = departments.filter(hospital_id=hospital_id)
    departments = list(with_next_available_date(departments, now=now))
    matches = [
        DepartmentMatch(
            department=department,
            score=scores[department.kind],
            keywords=sorted(matched[department.kind]),
            next_available_date=department.next_available_date,
        )
        for department in departments
    ]
    matches.sort(
        key=lambda match: (
            -match.score,
            match.next_available_date is None,
            match.next_available_date or datetime.date.max,
            match.department.hospital_id,
            match.department.sort_order,
            match.department.pk,
        )
    )
    answer.results = matches[:MAX_RESULTS]
    return answer
