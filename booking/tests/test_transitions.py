"""Every appointment status change goes through `places.change_status`, which follows Appointment.TRANSITIONS.

The property test watches the table itself (a PostgreSQL trigger logs every status change), so a
service that changed a status by hand, around the helper, would be seen too.
"""

import pytest
from django.db import connection
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import rule, run_state_machine_as_test

from accounts.tests.factories import PatientFactory
from booking import places
from booking.models import Appointment
from booking.services import book_slot, check_in, complete_visit, mark_no_shows, record_payment, record_refund
from booking.tests.test_state_machine import BookingMachine

Status = Appointment.Status


@pytest.fixture
def status_log(db):
    """Log (old, new) of every status change of booking_appointment, for the length of the test."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE test_appointment_status_log (old text, new text)")
        cursor.execute(
            """
            CREATE FUNCTION test_log_appointment_status() RETURNS trigger AS $$
            BEGIN
                INSERT INTO test_appointment_status_log VALUES (OLD.status, NEW.status);
                RETURN NEW;
            END $$ LANGUAGE plpgsql
            """
        )
        cursor.execute(
            """
            CREATE TRIGGER test_appointment_status AFTER UPDATE OF status ON booking_appointment
            FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
            EXECUTE FUNCTION test_log_appointment_status()
            """
        )

    def changes() -> set[tuple[str, str]]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT DISTINCT old, new FROM test_appointment_status_log")
            return set(cursor.fetchall())

    return changes


def _illegal(changes):
    return {(old, new) for old, new in changes if new not in Appointment.TRANSITIONS[Status(old)]}


# --- the helper ------------------------------------------------------------------------------


def test_an_illegal_move_is_refused_and_changes_nothing(slot, patient):
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    # pending_payment → checked_in skips paying: not in the table.
    assert not places.change_status(appointment_id=appointment.pk, to=Status.CHECKED_IN)
    with pytest.raises(places.IllegalTransition):
        places.change_status(appointment_id=appointment.pk, to=Status.CHECKED_IN, only_from=(Status.PENDING_PAYMENT,))
    with pytest.raises(places.IllegalTransition):
        places.change_status(appointment_id=appointment.pk, to=Status.PENDING_PAYMENT)  # nothing moves back there
    appointment.refresh_from_db()
    assert appointment.status == Status.PENDING_PAYMENT


def test_a_move_from_a_status_the_row_has_left_returns_false(slot, patient):
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    assert places.change_status(appointment_id=appointment.pk, to=Status.CONFIRMED)
    assert not places.change_status(appointment_id=appointment.pk, to=Status.CONFIRMED)  # the race's loser
    appointment.refresh_from_db()
    assert appointment.status == Status.CONFIRMED


# --- every change the services make is in the table ------------------------------------------


def test_the_visit_day_paths_make_only_legal_changes(slot, patient, front_desk, status_log):
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    record_payment(order_no=appointment.order_no, amount_fen=appointment.fee_fen, paid_at=appointment.created_at)
    visit = slot.start_at
    check_in(appointment=appointment, by=front_desk, now=visit)
    complete_visit(appointment=appointment, by=front_desk, now=visit)
    other = PatientFactory()
    missed = book_slot(user=other.user, patient=other, slot=slot)
    record_payment(order_no=missed.order_no, amount_fen=missed.fee_fen, paid_at=missed.created_at)
    mark_no_shows(now=slot.schedule.end_at.replace(year=slot.schedule.end_at.year + 1))
    assert status_log() == {
        (Status.PENDING_PAYMENT, Status.CONFIRMED),
        (Status.CONFIRMED, Status.CHECKED_IN),
        (Status.CHECKED_IN, Status.COMPLETED),
        (Status.CONFIRMED, Status.NO_SHOW),
    }


class TransitionsMachine(BookingMachine):
    """The booking state machine plus the visit day and refunds coming back."""

    @rule(data=st.data())
    def complete_someone(self, data):
        checked_in = list(self._appointments().filter(status=Status.CHECKED_IN))
        if checked_in:
            appointment = data.draw(st.sampled_from(checked_in))
            self._run(lambda: complete_visit(appointment=appointment, by=self.desk, now=self.now))

    @rule()
    def no_shows(self):
        self._run(lambda: mark_no_shows(now=self.now))

    @rule(data=st.data())
    def refund_comes_back(self, data):
        orders = list(self._appointments().values_list("order_no", flat=True))
        if orders:
            record_refund(order_no=data.draw(st.sampled_from(orders)), refunded_at=self.now)


@pytest.mark.slow
def test_every_status_change_the_services_make_is_in_transitions(status_log):
    run_state_machine_as_test(
        TransitionsMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
                HealthCheck.function_scoped_fixture,
            ],
            database=None,
        ),
    )
    seen = status_log()
    assert seen, "the machine changed no status at all"
    assert _illegal(seen) == set()
