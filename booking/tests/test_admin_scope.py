"""Every registered admin, probed as another hospital's staff: nothing of hospital 丙 is reachable.

The tests walk `admin.site._registry`, so an admin added later is probed without editing them.
Hospital 甲's staff hold the broadest role plus every permission in the database, so only the
scoping itself (not a missing permission) can stand between them and hospital 丙's rows.
Every name in hospital 丙 contains "丙", which therefore must never appear on their pages.
"""

import datetime
from collections import deque

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import PatientFactory
from booking.models import Penalty
from booking.services import add_places, book_slot, record_penalty
from hospital.admin_scope import HospitalScopedAdmin, ScopedChoicesMixin, hospital_path, in_hospital
from hospital.models import Hospital, HospitalStaff
from hospital.tests.factories import (
    BookingRulesFactory,
    DepartmentFactory,
    DoctorFactory,
    HospitalFactory,
    HospitalStaffFactory,
)
from scheduling.models import Period, ScheduleTemplate
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db

ALL_ONLINE = {"online_share": 100, "partner_share": 0, "window_share": 0, "clinic_share": 0}
NO_MATCH = "\x01no-such-prefix"


def build_hospital(mark: str) -> dict:
    """One hospital with a row of every hospital-scoped kind, every name carrying `mark`."""
    hospital = HospitalFactory(name=f"{mark}医院", code=f"h-{ord(mark)}")
    BookingRulesFactory(hospital=hospital, no_show_threshold=1, **ALL_ONLINE)
    department = DepartmentFactory(hospital=hospital, name=f"{mark}科室")
    doctor = DoctorFactory(hospital=hospital, name=f"{mark}医生", departments=[department])
    staff = HospitalStaffFactory(hospital=hospital, user__name=f"{mark}管理员")
    template = ScheduleTemplate.objects.create(
        doctor=doctor,
        department=department,
        weekday=0,
        period=Period.MORNING,
        start_time=datetime.time(8),
        end_time=datetime.time(9),
    )
    session = make_session(doctor=doctor)
    session.template = template
    session.save(update_fields=["template"])
    slot = session.slots.first()
    add_places(slot=slot, places=1, channel="window", reason=f"{mark}加号", by=staff.user)
    patient = PatientFactory(name=f"{mark}患者")
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    record_penalty(appointment=appointment, kind=Penalty.Kind.NO_SHOW, now=timezone.now())
    LogEntry.objects.log_actions(
        user_id=staff.user.pk, queryset=[doctor], action_flag=ADDITION, change_message=f"{mark}日志", single_object=True
    )
    return {"hospital": hospital, "staff": staff, "template": template, "session": session}


@pytest.fixture
def world():
    mine, theirs = build_hospital("甲"), build_hospital("丙")
    user = mine["staff"].user
    user.user_permissions.set(Permission.objects.all())
    user.groups.add(Group.objects.create(name="丙组"))
    return {"mine": mine, "theirs": theirs, "user": User.objects.get(pk=user.pk)}


def registry():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def staff_request(user, path="/admin/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


# ---------------------------------------------------------------------------------------------
# Query-string lookups


TARGETS = {User: "password__startswith", Group: "name__startswith", LogEntry: "change_message__startswith"}
TARGETS[Hospital] = "name__startswith"


def relation_chains(model, *, depth: int = 4, per_target: int = 6) -> list[str]:
    """Lookups from `model` through forward and reverse relations to a user's password, a group,
    a log entry or a hospital, shortest first."""
    found: dict[type, list[str]] = {target: [] for target in TARGETS}
    queue = deque([(model, [])])
    while queue:
        current, path = queue.popleft()
        if len(path) >= depth:
            continue
        for field in current._meta.get_fields(include_hidden=False):
            if not field.is_relation or field.related_model is None:
                continue
            chain = [*path, field.name]  # a reverse relation's name is its query name
            related = field.related_model
            if related in found and len(found[related]) < per_target and len(chain) > 1:
                found[related].append("__".join([*chain, TARGETS[related]]))
            if len(chain) < depth and related not in (ContentType, Permission):
                queue.append((related, chain))
    return [lookup for lookups in found.values() for lookup in lookups]


def answer(client, url, params):
    response = client.get(url, params)
    assert response.status_code != 500, (url, params)
    if response.status_code == 200 and response.context and "cl" in response.context:
        return 200, response.context["cl"].result_count
    return response.status_code, None


def test_the_motivating_leak_is_a_400(client, world):
    front_desk = HospitalStaffFactory(hospital=world["mine"]["hospital"], role=HospitalStaff.Role.FRONT_DESK).user
    client.force_login(front_desk)
    url = "/admin/hospital/doctor/"
    assert client.get(url, {"hospital__staff__user__password__startswith": "md5"}).status_code == 400
    assert client.get(url, {"departments__hospital__name__startswith": "丙"}).status_code == 400


@pytest.mark.parametrize("model", [model for model, _admin in registry()], ids=lambda model: model._meta.label)
def test_chained_lookups_never_give_a_filtered_answer(client, world, model):
    client.force_login(world["user"])
    url = changelist_url(model)
    model_admin = admin.site._registry[model]
    prefixes = [""]
    for entry in model_admin.list_filter:
        path = entry[0] if isinstance(entry, (list, tuple)) else entry
        if isinstance(path, str):
            prefixes.append(path)
    lookups = set(relation_chains(model))
    for prefix in prefixes[1:]:
        field = get_fields_from_path(model, prefix)[-1]
        if field.is_relation:
            lookups |= {f"{prefix}__{chain}" for chain in relation_chains(field.related_model, depth=3, per_target=3)}
    for lookup in sorted(lookups):
        matching = answer(client, url, {lookup: ""})
        other = answer(client, url, {lookup: NO_MATCH})
        assert matching[0] in (200, 302, 400, 403), (lookup, matching)
        assert matching == other, f"{model._meta.label}: ?{lookup} answers {matching} vs {other}"


def test_a_hidden_hospital_filter_still_narrows_only(client, world):
    client.force_login(world["user"])
    theirs = world["theirs"]["hospital"].pk
    status, count = answer(client, "/admin/scheduling/schedule/", {"doctor__hospital__id__exact": theirs})
    assert (status, count) == (200, 0)


# ---------------------------------------------------------------------------------------------
# Choices in forms and list filters


def other_hospitals_rows(queryset, theirs: Hospital):
    model = queryset.model
    if hospital_path(model) is None:
        return queryset.all()  # a model of no hospital: staff are offered none of its rows
    return queryset.filter(in_hospital(model, theirs.pk))


EXPECTED_CHOICES = {  # a sample, so the walk is known to reach real choices
    "hospital.Doctor": {"hospital.Doctor.hospital", "hospital.Doctor.departments"},
    "hospital.Department": {"hospital.Department.parent"},
    "hospital.BookingRules": {"hospital.BookingRules.department", "hospital.BookingRules.doctor"},
    "scheduling.Schedule": {"scheduling.Schedule.template", "scheduling.Schedule.doctor"},
    "scheduling.ScheduleTemplate": {"scheduling.ScheduleTemplate.doctor", "scheduling.ScheduleTemplate.department"},
}


def admin_forms(model_admin, request, obj):
    form_class = model_admin.get_form(request, obj, change=obj is not None)
    yield form_class(instance=obj)
    for formset, _inline in model_admin.get_formsets_with_inlines(request, obj):
        yield formset(instance=obj).empty_form


def scoped_registry():
    return [(model, model_admin) for model, model_admin in registry() if isinstance(model_admin, HospitalScopedAdmin)]


def test_every_model_of_a_hospital_has_a_scoped_admin_with_scoped_inlines():
    for model, model_admin in registry():
        if hospital_path(model) is not None:
            assert isinstance(model_admin, HospitalScopedAdmin), model._meta.label
        if isinstance(model_admin, HospitalScopedAdmin):
            for inline in model_admin.inlines:
                assert issubclass(inline, ScopedChoicesMixin), f"{model._meta.label}: {inline.__name__}"


def test_the_hospital_path_is_computed_from_required_foreign_keys():
    from booking.models import BookingRequest, WaitlistEntry
    from scheduling.models import Slot, SlotAdjustment

    assert hospital_path(Hospital) == "pk"
    assert hospital_path(ScheduleTemplate) == "doctor__hospital"
    assert hospital_path(Slot) == "schedule__doctor__hospital"
    assert hospital_path(SlotAdjustment) == "slot__schedule__doctor__hospital"
    # Not through the nullable appointment: a request without one still belongs to its hospital.
    assert hospital_path(BookingRequest) == hospital_path(WaitlistEntry) == "schedule__doctor__hospital"
    assert hospital_path(User) is None


@pytest.mark.parametrize("model", [model for model, _admin in scoped_registry()], ids=lambda m: m._meta.label)
def test_no_form_offers_or_accepts_another_hospitals_row(world, model):
    model_admin = admin.site._registry[model]
    request = staff_request(world["user"])
    theirs = world["theirs"]["hospital"]
    candidates = [None, model_admin.get_queryset(request).first()]
    checked = []
    for obj in candidates:
        if obj is None and not model_admin.has_add_permission(request):
            continue
        if obj is not None and not model_admin.has_change_permission(request, obj):
            continue
        for form in admin_forms(model_admin, request, obj):
            for name, field in form.fields.items():
                queryset = getattr(field, "queryset", None)
                if queryset is None or field.widget.is_hidden:
                    continue  # an inline's own pk: not offered, and Django ignores ids outside the inline
                checked.append(f"{model._meta.label}.{name}")
                assert not other_hospitals_rows(queryset, theirs).exists(), f"{model._meta.label}.{name}"
                row = other_hospitals_rows(queryset.model._default_manager.all(), theirs).first()
                if row is not None:
                    value = [row.pk] if isinstance(field, forms.ModelMultipleChoiceField) else row.pk
                    with pytest.raises(ValidationError):
                        field.clean(value)
    assert set(checked) >= EXPECTED_CHOICES.get(model._meta.label, set())


@pytest.mark.parametrize("model", [model for model, _admin in scoped_registry()], ids=lambda m: m._meta.label)
def test_no_list_filter_shows_another_hospitals_row(client, world, model):
    client.force_login(world["user"])
    response = client.get(changelist_url(model))
    assert response.status_code == 200
    theirs = world["theirs"]["hospital"]
    for spec in response.context["cl"].filter_specs:
        choices = [choice["display"] for choice in spec.choices(response.context["cl"])]
        assert not any("丙" in str(display) for display in choices), (model._meta.label, spec.title, choices)
        related = getattr(getattr(spec, "field", None), "related_model", None)
        if related is not None and hospital_path(related) is not None:
            pks = {pk for pk, _label in spec.lookup_choices}
            assert not related._default_manager.filter(in_hospital(related, theirs.pk), pk__in=pks).exists()


@pytest.mark.parametrize("model", [model for model, _admin in registry()], ids=lambda m: m._meta.label)
def test_no_admin_page_shows_another_hospitals_names(client, world, model):
    client.force_login(world["user"])
    model_admin = admin.site._registry[model]
    request = staff_request(world["user"])
    urls = [changelist_url(model), changelist_url(model) + "add/"]
    if model_admin.has_view_permission(request):
        mine = model_admin.get_queryset(request).first()
        if mine is not None:
            urls.append(changelist_url(model) + f"{mine.pk}/change/")
            urls.append(changelist_url(model) + f"{mine.pk}/history/")
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 302, 403), url
        assert "丙" not in response.content.decode(), url


def test_the_schedule_form_refuses_another_hospitals_template(client, world):
    """The example from the issue: 来源模板 listed and saved another hospital's templates."""
    client.force_login(world["user"])
    session = world["mine"]["session"]
    url = f"/admin/scheduling/schedule/{session.pk}/change/"
    page = client.get(url)
    assert "丙医生" not in page.content.decode()
    data = bound_values(page)
    data["template"] = world["theirs"]["template"].pk
    response = client.post(url, data)
    assert response.status_code == 200
    assert "template" in response.context["adminform"].form.errors
    session.refresh_from_db()
    assert session.template == world["mine"]["template"]


def test_the_doctor_list_offers_only_our_departments(client, world):
    client.force_login(world["user"])
    page = client.get("/admin/hospital/doctor/").content.decode()
    assert "甲科室" in page and "丙科室" not in page


def test_staff_of_a_hospital_reach_no_model_of_no_hospital(client, world):
    """Users, 就诊人, payments, groups, periodic tasks, login attempts: refused whatever permissions are held."""
    client.force_login(world["user"])
    for model, _model_admin in registry():
        if hospital_path(model) is None:
            assert client.get(changelist_url(model)).status_code == 403, model._meta.label
    user = world["user"]
    response = client.post(f"/admin/accounts/user/{user.pk}/change/", {"is_superuser": "on"})
    assert response.status_code == 403
    user.refresh_from_db()
    assert not user.is_superuser


def bound_values(page) -> dict:
    """The change form's current values, as the browser would post them back (with inline management forms)."""
    data = {}
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        forms.extend(formset.forms)
        forms.append(formset.management_form)
    for form in forms:
        for bound in form:
            if bound.field.disabled:
                continue
            value = bound.value()
            if value is None or value is False:
                continue
            if isinstance(value, (list, tuple)):
                data[bound.html_name] = [str(v) for v in value]
            elif value is True:
                data[bound.html_name] = "on"
            else:
                data[bound.html_name] = str(value)
    return data
