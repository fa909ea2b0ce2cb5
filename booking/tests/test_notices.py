"""What patients read: each appointment SMS rendered from real bookings, draws and suspensions.

Every message about a visit names the hospital and the department, one that asks the patient
to come says where to go, every moment (visit time, payment deadline) carries its date in the
one SMS format (3月4日 08:30), and a lost draw mentions the waitlist only when it is open.
"""

import datetime
import re

import pytest
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking import notices
from booking.allocation import draw_schedule, request_booking
from booking.models import Appointment, BookingBan, BookingRequest
from booking.services import book_slot, cancel_appointment, expire_appointment, join_waitlist, suspend_schedule
from hospital.tests.factories import DepartmentFactory, DoctorFactory
from notifications.models import NotificationLog
from notifications.templates_sms import format_datetime
from scheduling.models import AllocationPolicy
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db

# Dates in any other shape than the one SMS format: 2025-03-04, 03-04, 3/4.
OTHER_DATE_SHAPES = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\b\d{1,2}-\d{1,2}\b|\d{1,2}/\d{1,2}")


@pytest.fixture
def department(rules, doctor):
    department = doctor.departments.get()
    department.name = "心血管内科"
    department.location = "门诊楼3层A区"
    department.save()
    hospital = doctor.hospital
    hospital.name, hospital.address = "市第一人民医院", "解放路88号"
    hospital.save()
    return department


@pytest.fixture
def sms(django_capture_on_commit_callbacks):
    """Runs an action, lets its transaction's on-commit sends run, returns the new messages by template."""

    def run(action):
        before = set(NotificationLog.objects.values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            result = action()
        new = NotificationLog.objects.exclude(pk__in=before).order_by("pk")
        return result, {log.template: log.text for log in new}

    return run


def book(session, patient=None, **kwargs):
    patient = patient or PatientFactory()
    return book_slot(user=patient.user, patient=patient, slot=session.slots.get(), now=session.release_at, **kwargs)


def assert_names_the_visit(text: str, appointment: Appointment):
    assert "市第一人民医院" in text
    assert "心血管内科" in text
    assert appointment.doctor.name in text
    assert format_datetime(appointment.estimated_at) in text
    assert not OTHER_DATE_SHAPES.search(text), text


def assert_says_where_to_go(text: str):
    assert "就诊地点：解放路88号 门诊楼3层A区。" in text


def test_a_booking_to_pay_names_the_place_and_a_deadline_with_its_date(department, session, sms):
    appointment, texts = sms(lambda: book(session))
    assert appointment.status == Appointment.Status.PENDING_PAYMENT
    text = texts["booking_pending_payment"]
    assert_names_the_visit(text, appointment)
    assert_says_where_to_go(text)
    deadline = timezone.localtime(appointment.payment_deadline)
    assert f"请在{deadline.month}月{deadline.day}日 {deadline:%H:%M}前完成支付" in text


def test_a_free_booking_is_confirmed_with_the_queue_number_and_the_place(department, doctor, sms):
    session = make_session(doctor=doctor, places=5, fee_fen=0)
    appointment, texts = sms(lambda: book(session))
    assert appointment.status == Appointment.Status.CONFIRMED
    text = texts["booking_confirmed"]
    assert_names_the_visit(text, appointment)
    assert_says_where_to_go(text)
    assert f"就诊序号{appointment.queue_number}" in text


def test_a_sub_department_without_a_place_uses_its_parents(rules, doctor, sms):
    parent = DepartmentFactory(hospital=doctor.hospital, name="内科", location="门诊楼2层")
    child = DepartmentFactory(hospital=doctor.hospital, parent=parent, name="呼吸内科")
    doctor.departments.set([child])
    session = make_session(doctor=doctor, places=5)
    _appointment, texts = sms(lambda: book(session))
    assert f"就诊地点：{doctor.hospital.address} 门诊楼2层。" in texts["booking_pending_payment"]
    assert "呼吸内科" in texts["booking_pending_payment"]


def test_with_no_place_on_file_the_message_points_to_the_guide_desk(rules, doctor, sms):
    doctor.hospital.address = ""
    doctor.hospital.save()
    session = make_session(doctor=doctor, places=5)
    _appointment, texts = sms(lambda: book(session))
    assert "就诊地点：到院后请咨询导诊台。" in texts["booking_pending_payment"]


def test_a_cancellation_names_the_visit(department, session, sms):
    appointment = book(session)
    _result, texts = sms(
        lambda: cancel_appointment(user=appointment.booked_by, appointment=appointment, now=session.release_at)
    )
    assert_names_the_visit(texts["booking_cancelled"], appointment)


def test_an_expired_order_names_the_visit(department, session, sms):
    appointment = book(session)
    _result, texts = sms(
        lambda: expire_appointment(
            appointment_id=appointment.pk, now=appointment.payment_deadline + datetime.timedelta(seconds=1)
        )
    )
    assert_names_the_visit(texts["payment_expired"], appointment)


def test_a_suspension_names_the_visit_and_dates_alternatives_in_the_one_format(
    department, session, doctor, scheduler, sms
):
    other_doctor = DoctorFactory(hospital=doctor.hospital, departments=[department])
    alternative = make_session(doctor=other_doctor, date=session.date, places=5)
    appointment = book(session)
    _result, texts = sms(
        lambda: suspend_schedule(schedule=session, reason="医生临时出差", by=scheduler, now=session.release_at)
    )
    text = texts["schedule_suspended"]
    assert_names_the_visit(text, appointment)
    assert f"{alternative.date.month}月{alternative.date.day}日上午 {other_doctor.name}" in text


def test_a_waitlist_offer_names_the_place_and_a_deadline_with_its_date(department, doctor, sms):
    session = make_session(doctor=doctor, places=1)
    holder = book(session)
    waiting = PatientFactory()
    join_waitlist(user=waiting.user, patient=waiting, schedule=session, now=session.release_at)
    _result, texts = sms(lambda: cancel_appointment(user=holder.booked_by, appointment=holder, now=session.release_at))
    promoted = Appointment.objects.get(patient=waiting)
    text = texts["waitlist_promoted"]
    assert_names_the_visit(text, promoted)
    assert_says_where_to_go(text)
    assert f"请在{format_datetime(promoted.payment_deadline)}前完成支付" in text


@pytest.fixture
def lottery(department, doctor):
    return make_session(doctor=doctor, places=1, policy=AllocationPolicy.LOTTERY)


def enter(session, patient=None):
    patient = patient or PatientFactory()
    return request_booking(user=patient.user, patient=patient, schedule=session, now=session.release_at)


def draw_texts(session, sms) -> dict[int, tuple[str, str]]:
    """Each request's message after the draw: {request id: (template, text)}."""
    requests = list(BookingRequest.objects.filter(schedule=session).select_related("patient"))
    sms(lambda: draw_schedule(schedule=session, now=session.request_closes_at))
    by_phone = {log.phone: (log.template, log.text) for log in NotificationLog.objects.all()}
    return {request.pk: by_phone[request.patient.phone] for request in requests}


def test_the_winner_learns_the_place_and_a_deadline_with_its_date(lottery, sms):
    request = enter(lottery)
    template, text = draw_texts(lottery, sms)[request.pk]
    appointment = BookingRequest.objects.get(pk=request.pk).appointment
    assert template == "lottery_won"
    assert_names_the_visit(text, appointment)
    assert_says_where_to_go(text)
    assert f"请在{format_datetime(appointment.payment_deadline)}前完成支付" in text


def test_a_loser_is_told_the_waitlist_is_open_when_it_is(lottery, sms):
    enter(lottery)
    loser = enter(lottery)
    texts = draw_texts(lottery, sms)
    lost = BookingRequest.objects.get(schedule=lottery, status=BookingRequest.Status.LOST)
    template, text = texts[lost.pk]
    assert template == "lottery_lost_waitlist_open"
    assert "已开放候补" in text
    assert "市第一人民医院心血管内科" in text
    assert f"{lottery.date.month}月{lottery.date.day}日上午" in text
    # ...and it really is: the loser may join.
    patient = lost.patient
    join_waitlist(user=patient.user, patient=patient, schedule=lottery, now=lottery.request_closes_at)
    assert loser.pk in texts


def test_a_loser_is_not_sent_to_a_closed_waitlist(lottery, rules, sms):
    rules.waitlist_enabled = False
    rules.save()
    enter(lottery)
    enter(lottery)
    texts = draw_texts(lottery, sms)
    lost = BookingRequest.objects.get(schedule=lottery, status=BookingRequest.Status.LOST)
    template, text = texts[lost.pk]
    assert template == "lottery_lost"
    assert "候补" not in text
    assert "欢迎预约其他号源" in text


def test_an_ineligible_request_is_not_invited_to_the_waitlist(lottery, sms):
    request = enter(lottery)
    patient = request.patient
    BookingBan.objects.create(
        hospital=lottery.doctor.hospital,
        person_key=patient.person_key,
        patient=patient,
        starts_at=lottery.release_at,
        ends_at=lottery.release_at + datetime.timedelta(days=90),
        reason="test",
    )
    template, text = draw_texts(lottery, sms)[request.pk]
    assert BookingRequest.objects.get(pk=request.pk).status == BookingRequest.Status.INELIGIBLE
    assert template == "lottery_lost"
    assert "候补" not in text


def test_a_visit_reminder_names_the_place(department, session, sms):
    appointment = book(session)
    _result, texts = sms(lambda: notices.visit_reminder(appointment))
    text = texts["visit_reminder"]
    assert_names_the_visit(text, appointment)
    assert "就诊地点：解放路88号 门诊楼3层A区，" in text


def test_telling_a_loser_adds_no_query_while_the_draw_holds_its_locks(
    lottery, django_assert_num_queries, django_capture_on_commit_callbacks
):
    request = BookingRequest.objects.select_related("patient").get(pk=enter(lottery).pk)
    with django_capture_on_commit_callbacks(execute=False) as callbacks, django_assert_num_queries(0):
        notices.lottery_lost(request)
    assert len(callbacks) == 1
