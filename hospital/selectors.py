from django.db.models import Count, Prefetch, Q, QuerySet

from hospital.models import BookingRules, Department, Doctor, Hospital


def active_hospital_by_code(*, code: str) -> Hospital | None:
    """The open hospital with this code (its page, the search's hospital filter), or None."""
    return Hospital.objects.filter(code=code, is_active=True).first()


def active_hospitals() -> QuerySet[Hospital]:
    return (
        Hospital.objects.filter(is_active=True)
        .annotate(
            department_count=Count("departments", filter=Q(departments__is_active=True), distinct=True),
            doctor_count=Count("doctors", filter=Q(doctors__is_active=True), distinct=True),
        )
        .order_by("id")
    )


def department_tree(*, hospital: Hospital) -> QuerySet[Department]:
    """Top-level departments with their active children, in display order."""
    children = Department.objects.filter(is_active=True).order_by("sort_order", "id")
    return (
        Department.objects.filter(hospital=hospital, parent__isnull=True, is_active=True)
        .prefetch_related(Prefetch("children", queryset=children))
        .order_by("sort_order", "id")
    )


def doctors_of(*, hospital: Hospital) -> QuerySet[Doctor]:
    return Doctor.objects.filter(hospital=hospital, is_active=True).prefetch_related("departments").order_by("id")


def rules_for(*, hospital_id: int, department: Department | None = None, doctor_id: int | None = None) -> BookingRules:
    """The rules in force: the doctor's own row, else the nearest department's, else the hospital's.

    A hospital with no row at all gets the defaults (an unsaved BookingRules, version 0).
    """
    rows = {
        (row.doctor_id, row.department_id): row
        for row in BookingRules.objects.filter(hospital_id=hospital_id).filter(
            Q(doctor_id=doctor_id) | Q(doctor__isnull=True)
        )
    }
    if doctor_id is not None and (doctor_id, None) in rows:
        return rows[(doctor_id, None)]
    chain = [department, *department.ancestors()] if department is not None else []
    for node in chain:
        if (None, node.pk) in rows:
            return rows[(None, node.pk)]
    if (None, None) in rows:
        return rows[(None, None)]
    return BookingRules(hospital_id=hospital_id, version=0)


def active_hospital(*, hospital_id: int) -> Hospital | None:
    return Hospital.objects.filter(pk=hospital_id, is_active=True).first()


def open_department_tree(*, hospital: Hospital) -> list[Department]:
    """A hospital's open departments as a tree of any depth, in one query: the top-level ones,
    each with `tree_children`. A department under a closed one is closed with it."""
    nodes = list(Department.objects.filter(hospital=hospital, is_active=True).order_by("sort_order", "id"))
    by_id = {node.pk: node for node in nodes}
    for node in nodes:
        node.tree_children = []
    roots = []
    for node in nodes:
        if node.parent_id is None:
            roots.append(node)
        elif node.parent_id in by_id:
            by_id[node.parent_id].tree_children.append(node)
    return roots


def doctors_for_patients() -> QuerySet[Doctor]:
    """Doctors a patient may browse: active, in a hospital open for booking."""
    return (
        Doctor.objects.filter(is_active=True, hospital__is_active=True)
        .select_related("hospital")
        .prefetch_related(Prefetch("departments", queryset=Department.objects.filter(is_active=True)))
        .order_by("id")
    )


def open_department(*, hospital_code: str, department_id: int) -> Department | None:
    """An open department of an open hospital, with its hospital and parent loaded."""
    return (
        Department.objects.filter(
            pk=department_id, hospital__code=hospital_code, hospital__is_active=True, is_active=True
        )
        .select_related("hospital", "parent")
        .first()
    )


def doctors_in_departments(*, department_ids: list[int]) -> QuerySet[Doctor]:
    """Browsable doctors seeing patients in any of these departments (each doctor once)."""
    return doctors_for_patients().filter(
        pk__in=Doctor.departments.through.objects.filter(department_id__in=department_ids).values("doctor_id")
    )


def departments_named(*, text: str, hospital: Hospital | None = None, limit: int = 20) -> QuerySet[Department]:
    """Open departments of open hospitals (or of one) whose name contains `text`."""
    rows = Department.objects.filter(name__icontains=text.strip(), is_active=True, hospital__is_active=True)
    if hospital is not None:
        rows = rows.filter(hospital=hospital)
    return rows.select_related("hospital", "parent").order_by("hospital_id", "sort_order", "id")[:limit]


def doctors_named(*, text: str) -> QuerySet[Doctor]:
    """Browsable doctors by name or specialty (擅长)."""
    text = text.strip()
    return doctors_for_patients().filter(Q(name__icontains=text) | Q(specialty__icontains=text))
