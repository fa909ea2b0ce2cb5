"""Random sequences of everything that moves a place, with the invariants checked after every step.

Invariants:
- per slot and per channel, the taken count equals the place-holding appointments in it;
- every counter stays in bounds, and the channel shares add up to the slot's capacity;
- nobody holds two active appointments for one doctor on one day;
- every waitlist promotion went to the earliest eligible entry.
"""

import contextlib
import datetime
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from accounts.tests.factories import PartnerFactory, PatientFactory
from booking import errors
from booking.models import Appointment, WaitlistEntry
from booking.services import (
    add_places,
    book_slot,
    cancel_appointment,
    check_in,
    expire_appointment,
    join_waitlist,
    record_payment,
    release_reserves,
    suspend_schedule,
)
from hospital.channels import CHANNEL_ORDER, Channel
from hospital.models import HospitalStaff
from hospital.tests.factories import BookingRulesFactory, DoctorFactory, HospitalStaffFactory
from scheduling.models import Slot
from scheduling.tests.factories import make_session

PATIENTS = 8


class BookingMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        doctor = DoctorFactory(registration_fee_fen=1500)
        BookingRulesFactory(
            hospital=doctor.hospital,
            online_share=25,
            partner_share=25,
            window_share=25,
            clinic_share=25,
            max_per_department_per_day=9,
            max_per_hospital_per_day=9,
            max_active=9,
            max_per_month=99,
        )
        # Two slots of four places, one per channel: sessions fill (and waitlists form) quickly.
        self.session = make_session(doctor=doctor, places=4, segments=2)
        self.slot_ids = list(self.session.slots.order_by("start_at").values_list("pk", flat=True))
        # Reference model of each reserve channel's capacity: its share plus 加号, until its
        # reserve is released; from then on, what it had booked at release plus later 加号.
        self.model_capacity = {
            (slot.pk, channel): slot.capacity_of(channel)
            for slot in Slot.objects.filter(pk__in=self.slot_ids)
            for channel in CHANNEL_ORDER
        }
        self.added_after_release = Counter()
        self.partner = PartnerFactory()
        self.patients = [PatientFactory() for _ in range(PATIENTS)]
        self.partner_patients = [PatientFactory(user=self.partner.user) for _ in range(2)]
        self.desk = HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.FRONT_DESK).user
        self.scheduler = HospitalStaffFactory(hospital=doctor.hospital, role=HospitalStaff.Role.SCHEDULER).user
        first_start = self.session.slots.order_by("start_at").first().start_at
        self.now = max(
            self.session.release_at + datetime.timedelta(minutes=1), first_start - datetime.timedelta(days=2)
        )
        self.end = self.session.end_at + datetime.timedelta(hours=1)
        self.last_promotions: list[WaitlistEntry] = []

    # --- helpers ---------------------------------------------------------------------------

    def _slot(self, index):
        return Slot.objects.get(pk=self.slot_ids[index])

    def _appointments(self):
        return Appointment.objects.filter(schedule=self.session).select_related("patient")

    def _run(self, action):
        """Run one service call; domain refusals are fine, and we note who the waitlist promoted."""
        waiting_before = set(
            WaitlistEntry.objects.filter(schedule=self.session, status=WaitlistEntry.Status.WAITING).values_list(
                "pk", flat=True
            )
        )
        with contextlib.suppress(errors.BookingError):
            action()
        self.last_promotions = list(
            WaitlistEntry.objects.filter(pk__in=waiting_before, status=WaitlistEntry.Status.PROMOTED)
        )

    # --- rules -----------------------------------------------------------------------------

    @rule(who=st.integers(0, PATIENTS - 1), slot=st.integers(0, 1))
    def book_online(self, who, slot):
        patient = self.patients[who]
        self._run(lambda: book_slot(user=patient.user, patient=patient, slot=self._slot(slot), now=self.now))

    @rule(who=st.integers(0, PATIENTS - 1), slot=st.integers(0, 1), channel=st.sampled_from(["window", "clinic"]))
    def book_at_hospital(self, who, slot, channel):
        patient = self.patients[who]
        before = self._slot(slot).capacity_of(channel)
        self._run(
            lambda: book_slot(user=self.desk, patient=patient, slot=self._slot(slot), channel=channel, now=self.now)
        )
        after = self._slot(slot)
        if after.capacity_of(channel) > before:
            # Borrowed from the online pool after the release: only then, and one place at a time.
            assert after.channel_released(channel)
            assert after.capacity_of(channel) == before + 1
            self.model_capacity[(after.pk, channel)] += 1

    @rule(who=st.integers(0, 1), slot=st.integers(0, 1))
    def book_partner(self, who, slot):
        patient = self.partner_patients[who]
        self._run(
            lambda: book_slot(
                user=self.partner.user, patient=patient, slot=self._slot(slot), channel=Channel.PARTNER, now=self.now
            )
        )

    @rule(data=st.data())
    def cancel(self, data):
        active = list(self._appointments().filter(status__in=Appointment.ACTIVE))
        if not active:
            return
        appointment = data.draw(st.sampled_from(active))
        by_staff = data.draw(st.booleans())
        user = self.desk if by_staff else (appointment.patient.user or self.desk)
        self._run(lambda: cancel_appointment(user=user, appointment=appointment, now=self.now))

    @rule(data=st.data())
    def pay(self, data):
        pending = list(self._appointments().filter(status=Appointment.Status.PENDING_PAYMENT))
        if pending:
            appointment = data.draw(st.sampled_from(pending))
            record_payment(order_no=appointment.order_no, amount_fen=appointment.fee_fen, paid_at=self.now)

    @rule()
    def expire_due(self):
        for appointment in self._appointments().filter(
            status=Appointment.Status.PENDING_PAYMENT, payment_deadline__lte=self.now
        ):
            self._run(lambda a=appointment: expire_appointment(appointment_id=a.pk, now=self.now))

    @rule()
    def rush(self):
        """Everyone presses "book" on the first slot with room: the release-time rush in one step."""
        for patient in self.patients:
            for index in range(len(self.slot_ids)):
                self._run(
                    lambda p=patient, i=index: book_slot(user=p.user, patient=p, slot=self._slot(i), now=self.now)
                )

    @rule()
    def everyone_waits(self):
        for patient in self.patients:
            self._run(lambda p=patient: join_waitlist(user=p.user, patient=p, schedule=self.session, now=self.now))

    @rule(minutes=st.integers(1, 6 * 60))
    def advance_clock(self, minutes):
        self.now = min(self.now + datetime.timedelta(minutes=minutes), self.end)

    @rule()
    def release(self):
        before = {slot.pk: slot for slot in Slot.objects.filter(pk__in=self.slot_ids)}
        self._run(lambda: release_reserves(now=self.now))
        for slot in Slot.objects.filter(pk__in=self.slot_ids):
            for channel in CHANNEL_ORDER:
                newly_released = slot.channel_released(channel) and not before[slot.pk].channel_released(channel)
                if channel != Channel.ONLINE and newly_released:
                    self.model_capacity[(slot.pk, channel)] = before[slot.pk].booked_of(channel)

    @rule(slot=st.integers(0, 1), places=st.integers(1, 2), channel=st.sampled_from(CHANNEL_ORDER))
    def add(self, slot, places, channel):
        before = self._slot(slot).capacity
        self._run(
            lambda: add_places(
                slot=self._slot(slot), places=places, channel=channel, reason="加号", by=self.scheduler, now=self.now
            )
        )
        after = self._slot(slot)
        if after.capacity != before:
            self.model_capacity[(after.pk, channel)] += places
            if after.channel_released(channel):
                self.added_after_release[(after.pk, channel)] += places

    @rule(who=st.integers(0, PATIENTS - 1))
    def wait(self, who):
        patient = self.patients[who]
        self._run(lambda: join_waitlist(user=patient.user, patient=patient, schedule=self.session, now=self.now))

    @rule(data=st.data())
    def check_in_someone(self, data):
        confirmed = list(self._appointments().filter(status=Appointment.Status.CONFIRMED))
        if confirmed:
            appointment = data.draw(st.sampled_from(confirmed))
            self._run(lambda: check_in(appointment=appointment, by=self.desk, now=self.now))

    @precondition(lambda self: self.session.status != "suspended")
    @rule(roll=st.integers(0, 9))
    def suspend(self, roll):
        if roll == 0:  # rarely, so most runs keep going long enough to be interesting
            self._run(lambda: suspend_schedule(schedule=self.session, reason="停诊", by=self.scheduler, now=self.now))
            self.session.refresh_from_db()

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def counters_match_appointments(self):
        holding = Counter(
            self._appointments().filter(status__in=Appointment.PLACE_HOLDING).values_list("slot_id", "channel")
        )
        for slot in Slot.objects.filter(pk__in=self.slot_ids):
            assert 0 <= slot.booked <= slot.capacity
            assert slot.booked == sum(holding[(slot.pk, channel)] for channel in CHANNEL_ORDER)
            assert sum(slot.capacity_of(channel) for channel in CHANNEL_ORDER) == slot.capacity
            for channel in CHANNEL_ORDER:
                assert slot.booked_of(channel) == holding[(slot.pk, channel)], (slot.pk, channel)
                assert 0 <= slot.booked_of(channel) <= slot.capacity_of(channel)

    @invariant()
    def reserve_capacities_follow_the_model(self):
        """A freed reserve place stays in its channel until release, and goes online after it."""
        for slot in Slot.objects.filter(pk__in=self.slot_ids):
            for channel in CHANNEL_ORDER:
                if channel == Channel.ONLINE:
                    continue
                expected = self.model_capacity[(slot.pk, channel)]
                if slot.channel_released(channel):
                    # After release the channel can only shrink as its bookings are cancelled.
                    assert slot.capacity_of(channel) <= expected
                    assert slot.free_of(channel) <= self.added_after_release[(slot.pk, channel)]
                else:
                    assert slot.capacity_of(channel) == expected, (slot.pk, channel)

    @invariant()
    def one_active_appointment_per_person_doctor_day(self):
        active = Counter(
            self._appointments().filter(status__in=Appointment.ACTIVE).values_list("person_key", flat=True)
        )
        assert all(count == 1 for count in active.values())

    @invariant()
    def promotions_went_to_the_earliest_eligible(self):
        active_people = set(
            self._appointments().filter(status__in=Appointment.ACTIVE).values_list("person_key", flat=True)
        )
        for promoted in self.last_promotions:
            skipped = WaitlistEntry.objects.filter(
                schedule=self.session, status=WaitlistEntry.Status.WAITING, created_at__lte=promoted.created_at
            ).exclude(created_at=promoted.created_at, pk__gt=promoted.pk)
            for entry in skipped:
                assert entry.person_key in active_people, "an eligible earlier entry was passed over"


@pytest.mark.django_db
@pytest.mark.slow
def test_booking_state_machine():
    run_state_machine_as_test(
        BookingMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
