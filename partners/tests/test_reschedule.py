"""改约 through the partner API: the booking engine moves the order within the partner channel,
only between the partner's own orders and slots at hospitals that grant it."""

import datetime

import pytest
from django.utils import timezone

from accounts.tests.factories import PartnerFactory
from booking.models import Appointment
from booking.services import record_payment
from hospital.channels import Channel
from partners.models import WebhookDelivery
from partners.tests.factories import HospitalGrantFactory, PartnerWebhookFactory, make_key
from partners.tests.test_api import BASE, book, person
from payments.models import Payment
from scheduling.models import Schedule, Slot
from scheduling.tests.factories import make_session

pytestmark = pytest.mark.django_db


def slots(granted) -> tuple[Slot, Slot]:
    first, second = granted["session"].slots.order_by("start_at", "pk")
    return first, second


def reschedule(client, order_no, slot_id, **headers):
    return client.post(
        f"{BASE}/appointments/{order_no}/reschedule/",
        {"slot": slot_id},
        content_type="application/json",
        headers=headers,
    )


def partner_places(slot: Slot) -> tuple[int, int]:
    slot.refresh_from_db()
    return slot.partner_booked, slot.booked


@pytest.fixture
def booked(api, granted):
    first, _second = slots(granted)
    response = book(api, first)
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_place_moves_within_the_partner_channel_and_the_new_order_is_returned(api, granted, booked):
    first, second = slots(granted)
    assert partner_places(first) == (1, 1)

    response = reschedule(api, booked["order_no"], second.pk)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["order_no"] != booked["order_no"]
    assert body["slot"] == second.pk
    assert body["rescheduled_from"] == booked["order_no"]
    assert body["reschedule_count"] == 1
    assert body["status"] == booked["status"]
    assert body["patient"]["name"] == "张三"
    assert partner_places(first) == (0, 0)
    assert partner_places(second) == (1, 1)
    new = Appointment.objects.get(order_no=body["order_no"])
    assert new.channel == Channel.PARTNER
    assert new.partner_id == Appointment.objects.get(order_no=booked["order_no"]).partner_id
    assert Appointment.objects.get(order_no=booked["order_no"]).status == Appointment.Status.RESCHEDULED
    assert api.get(f"{BASE}/appointments/{body['order_no']}/").status_code == 200


def test_a_full_new_slot_is_a_409_and_the_old_appointment_is_kept(api, granted, booked):
    first, second = slots(granted)
    for order in (2, 3, 4):  # the session has 3 partner places per segment
        assert book(api, second, patient=person(order=order)).status_code == 201

    response = reschedule(api, booked["order_no"], second.pk)

    assert response.status_code == 409
    assert response.json()["code"] == "slot_full"
    old = Appointment.objects.get(order_no=booked["order_no"])
    assert old.status == booked["status"]
    assert old.slot_id == first.pk
    assert partner_places(first) == (1, 1)
    assert partner_places(second) == (3, 3)


def test_another_partners_order_is_a_404(client, granted, booked):
    other = PartnerFactory(name="另一平台", code="other")
    HospitalGrantFactory(partner=other, hospital=granted["hospital"])
    _first, second = slots(granted)

    response = reschedule(client, booked["order_no"], second.pk, **{"X-Api-Key": make_key(other)[1]})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Appointment.objects.get(order_no=booked["order_no"]).status == booked["status"]


def test_an_order_at_a_hospital_whose_grant_was_revoked_is_a_404(api, granted, booked, partner):
    partner.grants.update(revoked_at=timezone.now())
    _first, second = slots(granted)
    response = reschedule(api, booked["order_no"], second.pk)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_slot_at_an_ungranted_hospital_is_refused_with_its_own_code(api, granted, ungranted, booked):
    for slot_id in (ungranted["slot"].pk, 2**62):
        response = reschedule(api, booked["order_no"], slot_id)
        assert response.status_code == 404
        assert response.json()["code"] == "slot_not_granted"
    assert partner_places(ungranted["slot"]) == (0, 0)
    assert Appointment.objects.get(order_no=booked["order_no"]).status == booked["status"]


def test_bad_input_is_a_400(api, booked):
    for body in ({}, {"slot": 0}, {"slot": "x"}, {"slot": 2**63}):
        response = api.post(
            f"{BASE}/appointments/{booked['order_no']}/reschedule/", body, content_type="application/json"
        )
        assert response.status_code == 400, body
    response = reschedule(api, booked["order_no"], 1, **{"Idempotency-Key": "k" * 65})
    assert response.status_code == 400


def test_a_retry_with_the_same_key_returns_the_first_move_and_a_reused_key_is_a_422(api, granted, booked):
    first, second = slots(granted)
    key = {"Idempotency-Key": "move-1"}

    once = reschedule(api, booked["order_no"], second.pk, **key)
    again = reschedule(api, booked["order_no"], second.pk, **key)

    assert once.status_code == again.status_code == 201
    assert again.json()["order_no"] == once.json()["order_no"]
    assert partner_places(second) == (1, 1)
    assert Appointment.objects.filter(rescheduled_from__order_no=booked["order_no"]).count() == 1

    reused = reschedule(api, booked["order_no"], first.pk, **key)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"


def test_the_move_sends_a_webhook_for_the_old_order_and_the_new_one_once(api, granted, booked, partner):
    PartnerWebhookFactory(partner=partner)
    _first, second = slots(granted)
    key = {"Idempotency-Key": "move-hook"}

    new = reschedule(api, booked["order_no"], second.pk, **key).json()
    assert reschedule(api, booked["order_no"], second.pk, **key).status_code == 201  # a replay sends nothing

    rows = list(WebhookDelivery.objects.order_by("pk"))
    assert [(row.event, row.order_no) for row in rows] == [
        ("appointment.rescheduled", booked["order_no"]),
        ("appointment.rescheduled_in", new["order_no"]),
    ]
    assert rows[0].payload["appointment"]["status"] == "rescheduled"
    moved_in = rows[1].payload["appointment"]
    assert moved_in["rescheduled_from"] == booked["order_no"]
    assert moved_in["slot"] == second.pk
    assert moved_in["status"] == new["status"]


def test_the_query_count_is_bounded(api, granted, booked, partner, django_assert_max_num_queries):
    PartnerWebhookFactory(partner=partner)
    _first, second = slots(granted)
    with django_assert_max_num_queries(40):
        response = reschedule(api, booked["order_no"], second.pk, **{"Idempotency-Key": "count"})
    assert response.status_code == 201


def test_a_paid_order_keeps_its_number_and_the_webhooks_link_the_renamed_old_row(api, granted, booked, partner):
    PartnerWebhookFactory(partner=partner)
    record_payment(order_no=booked["order_no"], amount_fen=booked["fee_fen"], paid_at=timezone.now())
    _first, second = slots(granted)

    response = reschedule(api, booked["order_no"], second.pk)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["order_no"] == booked["order_no"]  # same fee: the payment carries over
    assert body["status"] == "confirmed"
    old_number = body["rescheduled_from"]
    assert old_number.startswith(f"{booked['order_no']}-")
    events = list(WebhookDelivery.objects.order_by("pk").values_list("event", "order_no"))
    assert events[-2:] == [
        ("appointment.rescheduled", old_number),
        ("appointment.rescheduled_in", booked["order_no"]),
    ]
    assert WebhookDelivery.objects.order_by("pk").last().payload["appointment"]["rescheduled_from"] == old_number


def test_a_paid_order_moving_to_a_dearer_place_owes_the_difference_and_pays_it(api, granted, booked, partner, settings):
    settings.PAYMENTS_SANDBOX = True
    first, _second = slots(granted)
    record_payment(order_no=booked["order_no"], amount_fen=booked["fee_fen"], paid_at=timezone.now())
    dear = make_session(
        doctor=granted["doctor"], date=granted["session"].date + datetime.timedelta(days=1), places=3
    ).slots.get()
    Schedule.objects.filter(pk=dear.schedule_id).update(fee_fen=booked["fee_fen"] + 500)

    response = api.post(
        f"{BASE}/appointments/{booked['order_no']}/reschedule/",
        {"slot": dear.pk, "provider": "sandbox"},
        content_type="application/json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["order_no"] == booked["order_no"] and body["status"] == "awaiting_difference"
    assert body["amount_due_fen"] == 500
    assert body["payment"]["order_no"] == booked["order_no"] and body["payment"]["redirect_url"]
    assert partner_places(first) == (1, 1) and partner_places(dear) == (1, 1)  # both held until it is paid
    paid = api.post(
        f"{BASE}/appointments/{booked['order_no']}/pay/", {"provider": "sandbox"}, content_type="application/json"
    )
    assert paid.status_code == 200 and paid.json()["redirect_url"]
    assert Payment.objects.filter(order_no=booked["order_no"], charge__startswith="move-").count() == 1  # reused
    api.post(paid.json()["redirect_url"])
    moved = Appointment.objects.get(order_no=booked["order_no"])
    assert moved.slot_id == dear.pk and moved.status == Appointment.Status.CONFIRMED
    assert partner_places(first) == (0, 0)


def test_a_held_move_tells_the_partner_only_once_it_is_made(api, granted, booked, partner, settings):
    from booking.services import expire_unpaid

    settings.PAYMENTS_SANDBOX = True
    PartnerWebhookFactory(partner=partner)
    record_payment(order_no=booked["order_no"], amount_fen=booked["fee_fen"], paid_at=timezone.now())
    dear = make_session(
        doctor=granted["doctor"], date=granted["session"].date + datetime.timedelta(days=1), places=3
    ).slots.get()
    Schedule.objects.filter(pk=dear.schedule_id).update(fee_fen=booked["fee_fen"] + 500)
    before = WebhookDelivery.objects.count()

    body = reschedule(api, booked["order_no"], dear.pk).json()
    held = Appointment.objects.get(moving_from__order_no=booked["order_no"])
    expire_unpaid(now=held.payment_deadline + datetime.timedelta(seconds=1))
    assert WebhookDelivery.objects.count() == before  # held, then given back: nothing happened to the order
    assert body["status"] == "awaiting_difference"

    body = reschedule(api, booked["order_no"], dear.pk).json()
    paid = api.post(
        f"{BASE}/appointments/{booked['order_no']}/pay/", {"provider": "sandbox"}, content_type="application/json"
    )
    api.post(paid.json()["redirect_url"])
    events = list(WebhookDelivery.objects.order_by("pk").values_list("event", "order_no"))[before:]
    assert events == [
        ("appointment.rescheduled", f"{booked['order_no']}-1"),
        ("appointment.confirmed", booked["order_no"]),
    ]
