"""After booking: cancellation, expiry, check-in, no-shows and bans, 停诊, 加号 and the waitlist."""

import datetime

import pytest
from django.utils import timezone

from accounts.tests.factories import PatientFactory
from booking import errors
from booking.models import Appointment, BookingBan, Penalty, WaitlistEntry
from booking.selectors import active_ban, bans_for_patient, waitlist_position
from booking.services import (
    add_places,
    book_slot,
    cancel_appointment,
    check_in,
    complete_visit,
    expire_appointment,
    join_waitlist,
    leave_waitlist,
    mark_no_shows,
    suspend_schedule,
    waive_penalty,
)
from booking.tests.conftest import side_effects
from hospital.channels import Channel
from hospital.models import HospitalStaff
from hospital.tests.factories import HospitalStaffFactory
from scheduling.models import Schedule, SlotAdjustment
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


def _book(patient, slot, **kwargs):
    return book_slot(user=patient.user, patient=patient, slot=slot, **kwargs)


def _fill(slot, n=None):
    slot.refresh_from_db()
    return [_book(PatientFactory(), slot) for _ in range(n if n is not None else slot.online_free)]


def _confirm(appointment, paid=True):
    Appointment.objects.filter(pk=appointment.pk).update(
        status=Appointment.Status.CONFIRMED, paid_at=timezone.now() if paid else None
    )
    appointment.refresh_from_db()
    return appointment


# --- cancellation --------------------------------------------------------------------------


def test_cancel_gives_the_place_back(slot, patient, user):
    appointment = _book(patient, slot)
    cancel_appointment(user=user, appointment=appointment, note="有事")
    appointment.refresh_from_db()
    slot.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancel_reason == Appointment.CancelReason.PATIENT
    assert (slot.booked, slot.online_booked) == (0, 0)


def test_cancel_after_deadline_is_refused(slot, patient, user):
    appointment = _book(patient, slot)
    too_late = slot.start_at - datetime.timedelta(minutes=appointment.rules_snapshot["cancel_deadline_minutes"] - 1)
    with pytest.raises(errors.CancelDeadlinePassed) as caught:
        cancel_appointment(user=user, appointment=appointment, now=too_late)
    assert caught.value.code == "cancel_deadline_passed"


def test_cancel_deadline_is_the_one_booked_under(rules, slot, patient, user):
    appointment = _book(patient, slot)
    rules.cancel_deadline_minutes = 60 * 24 * 10  # tightened after booking
    rules.save()
    cancel_appointment(user=user, appointment=appointment)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED


def test_outsider_cannot_cancel(slot, patient, outsider):
    appointment = _book(patient, slot)
    with pytest.raises(errors.NotOwner):
        cancel_appointment(user=outsider, appointment=appointment)


def test_cancelling_twice_is_refused(slot, patient, user):
    appointment = _book(patient, slot)
    cancel_appointment(user=user, appointment=appointment)
    with pytest.raises(errors.CancelNotAllowed):
        cancel_appointment(user=user, appointment=appointment)
    slot.refresh_from_db()
    assert slot.booked == 0


def test_cancelling_a_paid_appointment_requests_a_refund(slot, patient, user, django_capture_on_commit_callbacks):
    appointment = _confirm(_book(patient, slot))
    with django_capture_on_commit_callbacks() as callbacks:
        cancel_appointment(user=user, appointment=appointment)
    appointment.refresh_from_db()
    assert appointment.refund_requested_at is not None
    assert len(side_effects(callbacks)) == 3  # the refund request, the SMS and the 到号提醒 look-up (booking.receivers)


def test_late_cancellation_is_recorded_against_the_person(slot, patient, user):
    appointment = _confirm(_book(patient, slot))
    inside_late_window = slot.start_at - datetime.timedelta(hours=5)
    cancel_appointment(user=user, appointment=appointment, now=inside_late_window)
    penalty = Penalty.objects.get()
    assert penalty.kind == Penalty.Kind.LATE_CANCEL
    assert penalty.person_key == patient.person_key


def test_early_cancellation_is_not_recorded(slot, patient, user):
    appointment = _confirm(_book(patient, slot))
    cancel_appointment(user=user, appointment=appointment, now=slot.start_at - datetime.timedelta(hours=30))
    assert not Penalty.objects.exists()


def test_staff_cancellation_never_counts(slot, patient, front_desk):
    appointment = _confirm(_book(patient, slot))
    cancel_appointment(
        user=front_desk,
        appointment=appointment,
        reason=Appointment.CancelReason.STAFF,
        now=slot.start_at - datetime.timedelta(minutes=10),
    )
    appointment.refresh_from_db()
    assert appointment.cancel_reason == Appointment.CancelReason.STAFF
    assert not Penalty.objects.exists()


# --- expiry --------------------------------------------------------------------------------


def test_unpaid_order_expires_and_frees_its_place(slot, patient):
    appointment = _book(patient, slot)
    assert not expire_appointment(
        appointment_id=appointment.pk, now=appointment.payment_deadline - datetime.timedelta(seconds=1)
    )
    assert expire_appointment(appointment_id=appointment.pk, now=appointment.payment_deadline)
    appointment.refresh_from_db()
    slot.refresh_from_db()
    assert appointment.status == Appointment.Status.EXPIRED
    assert slot.booked == 0
    assert not expire_appointment(appointment_id=appointment.pk, now=appointment.payment_deadline)


def test_paid_order_does_not_expire(slot, patient):
    appointment = _confirm(_book(patient, slot))
    assert not expire_appointment(appointment_id=appointment.pk, now=slot.start_at)


# --- the day of the visit, no-shows and bans -----------------------------------------------


def test_check_in_and_complete_on_the_day(slot, patient, front_desk):
    appointment = _confirm(_book(patient, slot))
    with pytest.raises(errors.CheckInNotAllowed):
        check_in(appointment=appointment, by=front_desk)  # three days early
    on_the_day = slot.start_at - datetime.timedelta(minutes=20)
    check_in(appointment=appointment, by=front_desk, now=on_the_day)
    complete_visit(appointment=appointment, by=front_desk)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.COMPLETED
    slot.refresh_from_db()
    assert slot.booked == 1  # a visit keeps its place


def test_unpaid_appointment_cannot_check_in(slot, patient, front_desk):
    appointment = _book(patient, slot)
    with pytest.raises(errors.InvalidStatus):
        check_in(appointment=appointment, by=front_desk, now=slot.start_at)


def test_outsider_cannot_check_in(slot, patient, outsider):
    appointment = _confirm(_book(patient, slot))
    with pytest.raises(errors.NotOwner):
        check_in(appointment=appointment, by=outsider, now=slot.start_at)


def _no_show(patient, doctor, days_from_now):
    day = timezone.localdate() + datetime.timedelta(days=days_from_now)
    slot = make_session(doctor=doctor, date=day).slots.get()
    appointment = _confirm(_book(patient, slot, now=slot.start_at - datetime.timedelta(days=1)))
    mark_no_shows(now=slot.schedule.end_at + datetime.timedelta(minutes=1))
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.NO_SHOW
    return appointment, slot.schedule.end_at + datetime.timedelta(minutes=1)


def test_three_no_shows_ban_the_person_for_the_configured_period(rules, doctor, patient):
    for offset in (1, 2):
        _no_show(patient, doctor, offset)
    assert not BookingBan.objects.exists()
    _appointment, when = _no_show(patient, doctor, 3)
    ban = BookingBan.objects.get()
    assert ban.ends_at == when + datetime.timedelta(days=rules.ban_days)
    assert active_ban(person_key=patient.person_key, hospital_id=doctor.hospital_id, now=when) == ban
    assert list(bans_for_patient(patient=patient, now=when)) == [ban]


def test_a_new_account_does_not_escape_a_ban(rules, doctor, patient):
    for offset in (1, 2, 3):
        _appointment, when = _no_show(patient, doctor, offset)
    same_person = PatientFactory(
        id_number=patient.id_number, birth_date=patient.birth_date, gender=patient.gender, name=patient.name
    )
    slot = make_session(doctor=doctor, date=timezone.localdate() + datetime.timedelta(days=6)).slots.get()
    with pytest.raises(errors.PatientBanned):
        _book(same_person, slot, now=when)


def test_window_can_still_register_a_banned_person(rules, doctor, patient, front_desk):
    for offset in (1, 2, 3):
        _appointment, when = _no_show(patient, doctor, offset)
    rules.window_share, rules.online_share = 20, 80
    rules.save()
    slot = make_session(doctor=doctor, date=timezone.localdate() + datetime.timedelta(days=6)).slots.get()
    appointment = book_slot(user=front_desk, patient=patient, slot=slot, channel=Channel.WINDOW, now=when)
    assert appointment.status == Appointment.Status.CONFIRMED


def test_waiving_a_record_lifts_the_ban(rules, doctor, patient, hospital_admin):
    for offset in (1, 2, 3):
        _appointment, when = _no_show(patient, doctor, offset)
    penalty = Penalty.objects.first()
    waive_penalty(penalty=penalty, by=hospital_admin, reason="住院证明", now=when)
    assert active_ban(person_key=patient.person_key, hospital_id=doctor.hospital_id, now=when) is None
    penalty.refresh_from_db()
    assert penalty.waive_reason == "住院证明"


def test_outsider_cannot_waive(rules, doctor, patient, outsider):
    _appointment, _when = _no_show(patient, doctor, 1)
    with pytest.raises(errors.NotStaff):
        waive_penalty(penalty=Penalty.objects.get(), by=outsider, reason="x")


# --- 停诊 -----------------------------------------------------------------------------------


def test_suspension_cancels_everything_and_counts_nothing(session, slot, scheduler, django_capture_on_commit_callbacks):
    booked = _fill(slot, 3)
    _confirm(booked[0])
    with django_capture_on_commit_callbacks() as callbacks:
        assert suspend_schedule(schedule=session, reason="医生外出会诊", by=scheduler) == 3
    session.refresh_from_db()
    slot.refresh_from_db()
    assert session.status == Schedule.Status.SUSPENDED
    assert (slot.booked, slot.is_open) == (0, False)
    statuses = set(Appointment.objects.values_list("status", "cancel_reason"))
    assert statuses == {(Appointment.Status.CANCELLED, Appointment.CancelReason.DOCTOR_SUSPENDED)}
    assert Appointment.objects.get(pk=booked[0].pk).refund_requested_at is not None
    assert not Penalty.objects.exists()
    assert len(callbacks) >= 4  # three SMS and one refund request
    with pytest.raises(errors.ScheduleUnavailable):
        _book(PatientFactory(), slot)
    assert suspend_schedule(schedule=session, reason="again", by=scheduler) == 0


def test_front_desk_cannot_suspend(session, front_desk):
    with pytest.raises(errors.NotStaff):
        suspend_schedule(schedule=session, reason="x", by=front_desk)


def test_suspension_closes_the_waitlist(session, slot, scheduler):
    _fill(slot)
    waiting = PatientFactory()
    entry = join_waitlist(user=waiting.user, patient=waiting, schedule=session)
    suspend_schedule(schedule=session, reason="x", by=scheduler)
    entry.refresh_from_db()
    assert entry.status == WaitlistEntry.Status.CLOSED


# --- 加号 -----------------------------------------------------------------------------------


def test_add_places_records_and_numbers_after_the_session(session, slot, scheduler):
    _fill(slot)
    add_places(slot=slot, places=2, channel=Channel.ONLINE, reason="专家加号", by=scheduler)
    slot.refresh_from_db()
    assert (slot.capacity, slot.online_capacity) == (7, 7)
    adjustment = SlotAdjustment.objects.get()
    assert (adjustment.places, adjustment.channel, adjustment.created_by) == (2, Channel.ONLINE, scheduler)
    extra = _book(PatientFactory(), slot)
    assert extra.queue_number == 6  # after the session's 5 regular numbers


@pytest.mark.parametrize("places", [0, -1, 51, "2", True])
def test_add_places_rejects_bad_counts(slot, scheduler, places):
    with pytest.raises(errors.InvalidPlaces):
        add_places(slot=slot, places=places, channel=Channel.ONLINE, reason="x", by=scheduler)


def test_patients_cannot_add_places(slot, outsider):
    with pytest.raises(errors.NotStaff):
        add_places(slot=slot, places=1, channel=Channel.ONLINE, reason="x", by=outsider)


# --- waitlist ------------------------------------------------------------------------------


def test_waitlist_only_for_a_full_session(session, slot, patient, user):
    with pytest.raises(errors.WaitlistUnavailable) as caught:
        join_waitlist(user=user, patient=patient, schedule=session)
    assert caught.value.code == "waitlist_unavailable"
    _fill(slot)
    entry = join_waitlist(user=user, patient=patient, schedule=session)
    assert waitlist_position(entry=entry) == 1
    with pytest.raises(errors.DuplicateWaitlist):
        join_waitlist(user=user, patient=patient, schedule=session)


def test_freed_place_goes_to_the_first_in_line(session, slot, rules):
    booked = _fill(slot)
    first, second = PatientFactory(), PatientFactory()
    join_waitlist(user=first.user, patient=first, schedule=session)
    join_waitlist(user=second.user, patient=second, schedule=session)
    now = timezone.now()
    cancel_appointment(user=booked[0].patient.user, appointment=booked[0], now=now)
    promoted = Appointment.objects.get(patient=first, status=Appointment.Status.PENDING_PAYMENT)
    assert promoted.payment_deadline == now + datetime.timedelta(minutes=rules.waitlist_payment_minutes)
    assert WaitlistEntry.objects.get(patient=first).status == WaitlistEntry.Status.PROMOTED
    assert WaitlistEntry.objects.get(patient=second).status == WaitlistEntry.Status.WAITING
    slot.refresh_from_db()
    assert slot.booked == 5


def test_lapsed_promotion_passes_to_the_next(session, slot):
    booked = _fill(slot)
    first, second = PatientFactory(), PatientFactory()
    join_waitlist(user=first.user, patient=first, schedule=session)
    join_waitlist(user=second.user, patient=second, schedule=session)
    cancel_appointment(user=booked[0].patient.user, appointment=booked[0])
    offer = Appointment.objects.get(patient=first)
    expire_appointment(appointment_id=offer.pk, now=offer.payment_deadline)
    assert Appointment.objects.get(patient=second).status == Appointment.Status.PENDING_PAYMENT


def test_ineligible_entry_is_passed_over(session, slot, doctor):
    booked = _fill(slot)
    banned, next_in_line = PatientFactory(), PatientFactory()
    join_waitlist(user=banned.user, patient=banned, schedule=session)
    join_waitlist(user=next_in_line.user, patient=next_in_line, schedule=session)
    now = timezone.now()
    BookingBan.objects.create(
        person_key=banned.person_key,
        patient=banned,
        hospital=doctor.hospital,
        starts_at=now,
        ends_at=now + datetime.timedelta(days=9),
        reason="x",
    )
    cancel_appointment(user=booked[0].patient.user, appointment=booked[0], now=now)
    assert Appointment.objects.filter(patient=next_in_line).exists()
    assert not Appointment.objects.filter(patient=banned).exists()
    assert WaitlistEntry.objects.get(patient=banned).status == WaitlistEntry.Status.WAITING


def test_leaving_the_waitlist(session, slot, patient, user, outsider):
    _fill(slot)
    entry = join_waitlist(user=user, patient=patient, schedule=session)
    with pytest.raises(errors.NotOwner):
        leave_waitlist(user=outsider, entry=entry)
    assert leave_waitlist(user=user, entry=entry).status == WaitlistEntry.Status.CANCELLED


def test_added_online_places_go_to_the_waitlist(session, slot, scheduler):
    _fill(slot)
    waiting = PatientFactory()
    join_waitlist(user=waiting.user, patient=waiting, schedule=session)
    add_places(slot=slot, places=1, channel=Channel.ONLINE, reason="加号", by=scheduler)
    assert Appointment.objects.filter(patient=waiting).exists()


def test_staff_roles_come_from_the_hospital(doctor, session):
    other_hospital_admin = HospitalStaffFactory(role=HospitalStaff.Role.HOSPITAL_ADMIN).user
    with pytest.raises(errors.NotStaff):
        suspend_schedule(schedule=session, reason="x", by=other_hospital_admin)
