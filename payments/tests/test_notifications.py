"""Notifications built exactly as Alipay and WeChat Pay sign them, posted to our real endpoints."""

import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from payments.models import Method, Payment, Provider
from payments.providers import available_providers
from payments.providers.wechat import timestamp_is_fresh
from payments.tests import fakes
from payments.tests.factories import PaymentFactory

ALIPAY_URL = reverse("payments:notify_alipay")
WECHAT_URL = reverse("payments:notify_wechat")


def post_alipay(client, fields):
    return client.post(ALIPAY_URL, data=fields)


def post_wechat(client, body_and_headers):
    body, headers = body_and_headers
    return client.post(WECHAT_URL, data=body, content_type="application/json", headers=headers)


def unchanged(payment) -> bool:
    before = (payment.status, payment.paid_at, payment.provider_trade_no, payment.notification)
    payment.refresh_from_db()
    return (payment.status, payment.paid_at, payment.provider_trade_no, payment.notification) == before


# Alipay ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_alipay_notification_settles_the_payment_and_answers_success(client, alipay, paid_signals):
    payment = PaymentFactory(provider=Provider.ALIPAY)
    fields = alipay.notification(payment)

    response = post_alipay(client, fields)

    assert response.status_code == 200
    assert response.content == b"success"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert payment.provider_trade_no == fields["trade_no"]
    assert payment.notification["notify_id"] == fields["notify_id"]
    assert paid_signals.received == [payment]


@pytest.mark.django_db
def test_alipay_repeated_notification_settles_once_and_is_still_acknowledged(client, alipay, paid_signals):
    payment = PaymentFactory(provider=Provider.ALIPAY)
    fields = alipay.notification(payment)

    answers = [post_alipay(client, fields).content for _ in range(3)]

    assert answers == [b"success"] * 3
    assert paid_signals.count == 1


@pytest.mark.django_db
def test_alipay_notification_with_empty_fields_still_verifies(client, alipay):
    payment = PaymentFactory(provider=Provider.ALIPAY)
    fields = alipay.notification(payment, body="", passback_params="")

    assert post_alipay(client, fields).content == b"success"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda gw, p: gw.notification(p, sign_with=fakes.new_rsa_key()), id="forged-signature"),
        pytest.param(lambda gw, p: {**gw.notification(p), "total_amount": "0.01"}, id="altered-after-signing"),
        pytest.param(lambda gw, p: gw.notification(p, total_amount="12.49"), id="wrong-amount"),
        pytest.param(lambda gw, p: gw.notification(p, app_id="2021000000009999"), id="wrong-app-id"),
        pytest.param(lambda gw, p: gw.notification(p, out_trade_no="P20260105UNKNOWN000000"), id="unknown-order"),
        pytest.param(lambda gw, p: {**gw.notification(p), "sign": "not base64!"}, id="garbage-signature"),
        pytest.param(lambda gw, p: {k: v for k, v in gw.notification(p).items() if k != "sign"}, id="unsigned"),
        pytest.param(lambda gw, p: {**gw.notification(p), "sign_type": "RSA"}, id="other-sign-type"),
    ],
)
def test_alipay_bad_notifications_are_rejected_and_change_nothing(client, alipay, paid_signals, tamper):
    payment = PaymentFactory(provider=Provider.ALIPAY)

    response = post_alipay(client, tamper(alipay, payment))

    assert 400 <= response.status_code < 500
    assert response.content != b"success"
    assert unchanged(payment)
    assert payment.status == Payment.Status.CREATED
    assert paid_signals.count == 0


@pytest.mark.django_db
def test_alipay_notification_is_refused_for_retry_while_alipay_is_not_configured(client, alipay, settings):
    payment = PaymentFactory(provider=Provider.ALIPAY)
    fields = alipay.notification(payment)
    settings.ALIPAY_PUBLIC_KEY = ""

    response = post_alipay(client, fields)

    assert response.status_code == 503
    assert response.content == b"failure"
    assert unchanged(payment)


@pytest.mark.django_db
def test_alipay_without_a_seller_id_is_unavailable_and_settles_nothing(client, alipay, settings):
    """Without ALIPAY_SELLER_ID a signed notification about another seller's trade could pass as ours."""
    payment = PaymentFactory(provider=Provider.ALIPAY)
    fields = alipay.notification(payment, seller_id="2088000000000000")
    settings.ALIPAY_SELLER_ID = ""

    response = post_alipay(client, fields)

    assert response.status_code == 503
    assert response.content == b"failure"
    assert unchanged(payment)
    assert "alipay" not in available_providers()


@pytest.mark.django_db
def test_alipay_wait_buyer_pay_notification_is_acknowledged_without_change(client, alipay):
    payment = PaymentFactory(provider=Provider.ALIPAY)
    alipay.buyer_opens(payment)

    response = post_alipay(client, alipay.notification(payment, trade_status="WAIT_BUYER_PAY"))

    assert response.content == b"success"
    assert unchanged(payment)


@pytest.mark.django_db
def test_notify_endpoints_refuse_get(client):
    assert client.get(ALIPAY_URL).status_code == 405
    assert client.get(WECHAT_URL).status_code == 405


# WeChat Pay --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_wechat_notification_settles_the_payment_and_answers_204(client, wechat, paid_signals):
    payment = PaymentFactory(provider=Provider.WECHAT, method=Method.NATIVE)

    response = post_wechat(client, wechat.notification(payment))

    assert response.status_code == 204
    assert response.content == b""
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert payment.provider_trade_no.startswith("4200")
    assert payment.notification["resource"]["out_trade_no"] == payment.out_trade_no
    assert paid_signals.received == [payment]


@pytest.mark.django_db
def test_wechat_repeated_notification_settles_once(client, wechat, paid_signals):
    payment = PaymentFactory(provider=Provider.WECHAT, method=Method.NATIVE)
    notification = wechat.notification(payment)

    statuses = [post_wechat(client, notification).status_code for _ in range(3)]

    assert statuses == [204, 204, 204]
    assert paid_signals.count == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda gw, p: gw.notification(p, sign_with=fakes.new_rsa_key()), id="forged-signature"),
        pytest.param(lambda gw, p: gw.notification(p, apiv3_key="0" * 32), id="wrong-apiv3-key"),
        pytest.param(
            lambda gw, p: gw.notification(p, resource={"amount": {"total": 1, "currency": "CNY"}}), id="amount"
        ),
        pytest.param(lambda gw, p: gw.notification(p, resource={"mchid": "1900000999"}), id="wrong-mchid"),
        pytest.param(lambda gw, p: gw.notification(p, resource={"appid": "wx0000000000000000"}), id="wrong-appid"),
        pytest.param(lambda gw, p: gw.notification(p, resource={"out_trade_no": "P2026UNKNOWN"}), id="unknown-order"),
    ],
)
def test_wechat_bad_notifications_are_rejected_with_fail_body(client, wechat, paid_signals, tamper):
    payment = PaymentFactory(provider=Provider.WECHAT, method=Method.NATIVE)

    response = post_wechat(client, tamper(wechat, payment))

    assert 400 <= response.status_code < 500
    assert response.json()["code"] == "FAIL"
    assert response.json()["message"]
    assert unchanged(payment)
    assert paid_signals.count == 0


@pytest.mark.django_db
def test_wechat_body_altered_after_signing_is_rejected(client, wechat):
    payment = PaymentFactory(provider=Provider.WECHAT, method=Method.NATIVE)
    body, headers = wechat.notification(payment)
    altered = json.loads(body)
    altered["event_type"] = "TRANSACTION.SUCCESS "

    response = post_wechat(client, (json.dumps(altered), headers))

    assert response.status_code == 400
    assert unchanged(payment)


@pytest.mark.django_db
def test_wechat_notification_from_an_unknown_key_serial_is_rejected_without_network(client, wechat):
    payment = PaymentFactory(provider=Provider.WECHAT, method=Method.NATIVE)
    body, headers = wechat.notification(payment)

    response = post_wechat(client, (body, {**headers, "Wechatpay-Serial": "PUB_KEY_ID_SOMEONE_ELSE"}))

    assert response.status_code == 400
    assert wechat.requests == []  # no certificate download attempted
    assert unchanged(payment)


@pytest.mark.parametrize(
    "timestamp, fresh",
    [
        ("1767578162", True),  # exactly 5 minutes old
        ("1767578161", False),
        ("1767578762", True),  # exactly 5 minutes ahead
        ("1767578763", False),
        ("0", False),
        ("", False),
        ("+1767578462", False),
        ("1767578462.0", False),
    ],
)
def test_wechat_notifications_are_held_to_five_minutes_either_way(timestamp, fresh):
    assert timestamp_is_fresh(timestamp, now=1767578462.0) is fresh


# Concurrency ------------------------------------------------------------------------------------


def _post_concurrently(post, times=5) -> list[int]:
    barrier = threading.Barrier(times)
    statuses = []
    lock = threading.Lock()

    def deliver():
        try:
            barrier.wait()
            status = post(Client()).status_code
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_same_alipay_notification_posted_five_times_at_once_settles_once(alipay, paid_signals):
    payment = PaymentFactory(provider=Provider.ALIPAY)
    fields = alipay.notification(payment)

    statuses = _post_concurrently(lambda client: post_alipay(client, fields))

    assert statuses == [200] * 5
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert paid_signals.count == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_same_wechat_notification_posted_five_times_at_once_settles_once(wechat, paid_signals):
    payment = PaymentFactory(provider=Provider.WECHAT, method=Method.NATIVE)
    notification = wechat.notification(payment)

    statuses = _post_concurrently(lambda client: post_wechat(client, notification))

    assert statuses == [204] * 5
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert Payment.objects.filter(order_no=payment.order_no, status=Payment.Status.PAID).count() == 1
    assert paid_signals.count == 1
