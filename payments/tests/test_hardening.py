"""Hardening: the edge cases a correctness review of payments found, each kept as a regression test.

Each docstring describes the failure it guards against (severity, where, what went wrong) and the
fix that is now in place.
"""

import datetime
from urllib.parse import urlsplit

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from booking.models import Appointment
from booking.services import book_slot, cancel_appointment, expire_unpaid, pay_appointment
from booking.tests.conftest import doctor, patient, rules, session, slot  # noqa: F401
from payments import services
from payments.errors import ProviderError
from payments.models import Method, Payment, Provider, Refund
from payments.tests import fakes

ALIPAY_URL = reverse("payments:notify_alipay")
WECHAT_URL = reverse("payments:notify_wechat")
WECHAT_REFUND_URL = reverse("payments:notify_wechat_refund")


def post_alipay(client, payment, gateway):
    response = client.post(ALIPAY_URL, data=gateway.notification(payment))
    assert response.content == b"success"


def post_wechat(client, url, body_and_headers):
    body, headers = body_and_headers
    response = client.post(url, data=body, content_type="application/json", headers=headers)
    assert response.status_code in (200, 204)


def start(**overrides):
    arguments = {
        "order_no": "GH20260105777",
        "amount_fen": 1250,
        "subject": "门诊挂号费",
        "provider": Provider.ALIPAY,
        "method": Method.WAP,
        "expires_at": timezone.now() + datetime.timedelta(minutes=10),
    }
    arguments.update(overrides)
    return services.start_payment(**arguments)


class WechatV3(fakes.FakeWechatPay):
    """The fake WeChat server, answering a close of an already closed order as the v3 API documents it.

    pay.weixin.qq.com/doc/v3/merchant/4012556398 (关闭订单), business error: 400 ORDER_CLOSED 订单已关闭.
    """

    def _close(self, request):
        out_trade_no = urlsplit(request.url).path.split("/")[-2]
        if self.trades.get(out_trade_no, {}).get("trade_state") == "CLOSED":
            self._record(request)
            return self._answer(400, {"code": "ORDER_CLOSED", "message": "订单已关闭"})
        return super()._close(request)


@pytest.fixture
def wechat_v3(wechat, keys):
    """`wechat`'s configuration, with the server above answering instead (an inner RequestsMock wins)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield WechatV3(keys, mocked)


def alipay_close_as_documented(gateway):
    """alipay.trade.close only closes WAIT_BUYER_PAY trades; any other state is ACQ.TRADE_STATUS_ERROR."""

    def close(biz):
        trade = gateway.trades.get(biz["out_trade_no"])
        if trade is None:
            return gateway._not_found()
        if trade["trade_status"] != "WAIT_BUYER_PAY":
            return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR"}
        trade["trade_status"] = "TRADE_CLOSED"
        return {"code": "10000", "msg": "Success", "out_trade_no": biz["out_trade_no"], "trade_no": ""}

    return close


# 1. An order whose trade the provider already closed can never expire ------------------------------


@pytest.mark.django_db
def test_alipay_trade_closed_at_its_time_expire_is_closed_here_not_an_endless_provider_error(alipay):
    """HIGH — payments/services.py:231-242 (settle_or_close) with payments/providers/alipay.py:136-138.

    We send Alipay `time_expire` = the payment deadline, so an opened but unpaid trade is closed by
    Alipay itself (trade_status TRADE_CLOSED, "未付款交易超时关闭") right when our deadline passes.
    settle_or_close queries (CLOSED), ignores that and calls alipay.trade.close anyway; Alipay answers
    ACQ.TRADE_STATUS_ERROR (only WAIT_BUYER_PAY can be closed), which close() reads as "paid"; the
    re-query says CLOSED, so ProviderError is raised. Every expire_unpaid run repeats this: the
    appointment stays pending_payment and its place is never given back. The same happens when an
    earlier close succeeded at Alipay but its answer was lost (timeout).

    Fix: in settle_or_close, `if report.state is TradeState.CLOSED: _mark_closed(payment); continue`
    before calling close(); and when close() says PAID but the re-query says CLOSED, mark it closed.
    """
    payment = start().payment
    alipay.buyer_opens(payment)
    alipay.trades[payment.out_trade_no]["trade_status"] = "TRADE_CLOSED"  # Alipay's own time_expire
    alipay._close = alipay_close_as_documented(alipay)

    try:
        still_paid = services.settle_or_close(order_no=payment.order_no)
    except ProviderError:
        pytest.fail("settle_or_close raised ProviderError for a trade Alipay reports as TRADE_CLOSED")

    assert still_paid is False
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CLOSED


@pytest.mark.django_db
def test_wechat_order_already_closed_lets_the_appointment_expire(wechat_v3, slot, patient):  # noqa: F811
    """HIGH — payments/services.py:235 + payments/providers/wechat.py:368-376 (close).

    A WeChat order that is already CLOSED (our previous close went through but its 204 was lost to a
    read timeout, or WeChat closed it) is queried as CLOSED, then closed again; WeChat v3 answers
    400 ORDER_CLOSED, but close() only knows the v2 spelling "ORDERCLOSED", so it raises
    ProviderError. expire_unpaid logs and skips the order on every run, forever: the appointment
    never expires and the slot's place is never returned.

    Fix: settle_or_close marks a payment whose query says CLOSED as closed without calling close();
    wechat close() treats "ORDER_CLOSED" (v3) as CLOSED.
    """
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    started = pay_appointment(user=patient.user, appointment=appointment, provider="wechat", method="native")
    wechat_v3.trades[started.payment.out_trade_no]["trade_state"] = "CLOSED"

    expired = expire_unpaid(now=appointment.payment_deadline)

    appointment.refresh_from_db()
    slot.refresh_from_db()
    assert expired == 1
    assert appointment.status == Appointment.Status.EXPIRED
    assert slot.booked == 0


# 2. A second payment of an order is kept when the first one is already being refunded -----------------


@pytest.mark.django_db
def test_second_payment_arriving_after_the_first_was_refunded_is_refunded_too(
    client,
    alipay,
    wechat,
    slot,  # noqa: F811
    patient,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    """HIGH (money kept) — payments/services.py:173-181 (record_payment_paid) and booking/services.py:953-954.

    The payer opened both Alipay and WeChat for one order and paid both; WeChat's notification comes
    late (it retries for hours). Meanwhile the Alipay payment confirmed the order, the patient
    cancelled and the Alipay payment was refunded (status refunded). The partial unique index
    `payments_payment_one_paid_per_order` only covers status='paid', so the WeChat payment becomes
    PAID without a conflict, payment_succeeded fires, and booking's record_payment sees
    appointment.paid_at already set ("the same payment announced again") and does nothing.
    The second 20 yuan is never refunded. Same when the first payment is still REFUNDING.

    Fix: in record_payment_paid, under a per-order lock (pg_advisory_xact_lock on order_no, or lock
    all payments of the order in pk order), treat the payment as a duplicate when any *other*
    payment of the order has paid_at set (paid, refunding or refunded): move it to refunding and
    refund it, as the IntegrityError branch does. Also close the order's other open payments at
    their providers once one is paid.
    """
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    by_alipay = pay_appointment(user=patient.user, appointment=appointment, provider="alipay", method="wap").payment
    by_wechat = pay_appointment(user=patient.user, appointment=appointment, provider="wechat", method="native").payment
    wechat.buyer_pays(by_wechat)  # paid too; its notification is delayed

    with django_capture_on_commit_callbacks(execute=True):
        post_alipay(client, by_alipay, alipay)  # closing the other attempt finds it paid: a duplicate
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=patient.user, appointment=appointment)
    by_alipay.refresh_from_db()
    assert by_alipay.status == Payment.Status.REFUNDED  # Alipay refunded the first payment
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED  # the WeChat money is still on its way back

    with django_capture_on_commit_callbacks(execute=True):
        post_wechat(client, WECHAT_URL, wechat.notification(by_wechat))  # the late notification changes nothing

    by_wechat.refresh_from_db()
    assert by_wechat.status != Payment.Status.PAID, "the second payment is kept as paid"
    duplicate_refund = by_wechat.refunds.exclude(status=Refund.Status.FAILED).get()
    post_wechat(client, WECHAT_REFUND_URL, wechat.refund_notification(duplicate_refund))
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.REFUNDED  # now no money of the order is held


# 3. The duplicate's refund marks the order refunded while the order's own refund is still pending -------


@pytest.mark.django_db
def test_refund_of_a_duplicate_payment_does_not_mark_the_order_refunded(
    client,
    alipay,
    wechat,
    slot,  # noqa: F811
    patient,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    """MEDIUM — booking/receivers.py:14-16 + booking/services.py:998-1003 (record_refund); payments/signals.py.

    refund_succeeded is sent for every refund, including the automatic refund of a duplicate
    payment, and booking's record_refund marks the order `refunded` (refunded_at set) on any of them.
    Here the order was paid twice (Alipay kept, WeChat duplicate auto-refunded, still processing),
    the patient cancelled, and the Alipay refund could not be submitted yet. When the duplicate's
    refund completes, the appointment shows 已退款 although the fee is still with us; and
    retry_unfinished_refunds (refunded_at__isnull=True) stops asking for it, so if that refund
    then fails (payment back to paid), nothing refunds it again.

    Fix: only the refund of the payment that settled the order may complete it: send the signal
    with `duplicate=True` (or a `settled_order` flag) for duplicate refunds and ignore those in
    booking, or have record_refund check that no payment of the order is still paid/refunding.
    """
    appointment = book_slot(user=patient.user, patient=patient, slot=slot)
    by_alipay = pay_appointment(user=patient.user, appointment=appointment, provider="alipay", method="wap").payment
    by_wechat = pay_appointment(user=patient.user, appointment=appointment, provider="wechat", method="native").payment
    wechat.buyer_pays(by_wechat)  # paid at WeChat too, before the Alipay payment closed this attempt
    with django_capture_on_commit_callbacks(execute=True):
        post_alipay(client, by_alipay, alipay)
    with django_capture_on_commit_callbacks(execute=True):
        post_wechat(client, WECHAT_URL, wechat.notification(by_wechat))  # duplicate: auto-refund, processing
    duplicate_refund = by_wechat.refunds.get()
    assert duplicate_refund.status == Refund.Status.PROCESSING

    alipay.fail_with = OSError("gateway down")
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=patient.user, appointment=appointment)
    own_refund = by_alipay.refunds.get()
    assert own_refund.status == Refund.Status.PENDING

    post_wechat(client, WECHAT_REFUND_URL, wechat.refund_notification(duplicate_refund))

    appointment.refresh_from_db()
    by_alipay.refresh_from_db()
    assert by_alipay.status == Payment.Status.REFUNDING  # the fee has not gone back yet
    assert appointment.status != Appointment.Status.REFUNDED
    assert appointment.refunded_at is None


# 4. Alipay refund: code 10000 is not "refunded" ---------------------------------------------------------


@pytest.mark.django_db
def test_alipay_refund_answer_without_fund_change_is_not_taken_as_refunded(
    alipay, client, refunded_signals, django_capture_on_commit_callbacks
):
    """MEDIUM — payments/providers/alipay.py:150-159 (refund).

    Alipay documents that code 10000 only means the refund call was accepted; success is
    fund_change=Y, and fund_change=N (or absent) must be confirmed with
    alipay.trade.fastpay.refund.query. refund() marks every 10000 answer SUCCEEDED, so the refund
    and the appointment become 已退款 and refund_succeeded fires while the money may not have moved
    (the query below still finds nothing).

    Fix: return RefundState.SUCCEEDED only when answer["fund_change"] == "Y"; otherwise PROCESSING,
    and let refresh_refund / the sweep confirm it with query_refund (same out_request_no).
    """
    payment = start().payment
    post_alipay(client, payment, alipay)
    alipay._refund = lambda biz: {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": biz["out_trade_no"],
        "trade_no": alipay.trades[biz["out_trade_no"]]["trade_no"],
        "refund_fee": "0.00",
        "fund_change": "N",
    }

    with django_capture_on_commit_callbacks(execute=True):
        refund = services.request_refund(order_no=payment.order_no, reason="取消预约")
    refund.refresh_from_db()

    assert refund.status != Refund.Status.SUCCEEDED
    assert refunded_signals.count == 0


# 5. Malformed notification bodies answer 500 ---------------------------------------------------------


@pytest.mark.parametrize("url", [ALIPAY_URL, WECHAT_URL, WECHAT_REFUND_URL])
@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"not multipart at all", "multipart/form-data"),  # no boundary: MultiPartParserError
        (b"a" * (3 * 1024 * 1024), "application/json"),  # over DATA_UPLOAD_MAX_MEMORY_SIZE: RequestDataTooBig
    ],
    ids=["bad-multipart", "too-big"],
)
def test_malformed_notification_bodies_are_refused_with_4xx_not_500(client, url, body, content_type):
    """LOW — payments/views.py:84-85 (_incoming) inside the catch-all at views.py:97-99 / 113-115.

    request.body / request.POST raise (MultiPartParserError, RequestDataTooBig: SuspiciousOperation)
    inside the try, the bare `except Exception` logs a traceback and answers 500. Anyone can make
    the notify endpoints answer 500 and fill the error log; the design says a caller's bad input is
    never a 500. (Alipay/WeChat treat 500 as "retry", so a real notification is not lost either way.)

    Fix: build the IncomingNotification before the try and map
    `(MultiPartParserError, RequestDataTooBig, TooManyFieldsSent, UnicodeDecodeError)` to 400
    ("fail" / {"code": "FAIL"}), or catch django.core.exceptions.SuspiciousOperation/BadRequest there.
    """
    response = client.generic("POST", url, body, content_type=content_type)

    assert 400 <= response.status_code < 500
