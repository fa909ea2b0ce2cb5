"""Payment notifications: 100% of forgeries rejected, 0 answered with a 500.

A generated matrix of mutated notifications is posted to the real endpoints. The mutations that
must get past the signature check to reach our parsing (wrong types, missing keys, foreign
merchant ids, stale and future timestamps) are signed with the test platform keys, as a provider
that misbehaves, or an attacker holding an old signed body, would send them. Every row must be
answered exactly with the provider's failure answer (Alipay: 400 "failure"; WeChat Pay: 400
{"code": "FAIL", "message": …}) and change no row: Payment, Refund and Appointment stay as they were.

Alipay notifications carry no timestamp we can hold them to (Alipay re-sends the same trade's
notification for about 25 hours), so the timestamp rows are WeChat Pay's.
"""

import json
import time
from dataclasses import dataclass, field

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking.models import Appointment
from booking.services import book_slot, cancel_appointment, pay_appointment
from booking.tests.conftest import doctor, patient, rules, session, slot  # noqa: F401
from payments.models import Payment, Refund
from payments.tests import fakes

ALIPAY_URL = reverse("payments:notify_alipay")
WECHAT_URL = reverse("payments:notify_wechat")
WECHAT_REFUND_URL = reverse("payments:notify_wechat_refund")
DAY = 24 * 60 * 60


@dataclass
class World:
    """One order open at both providers, and one paid by WeChat Pay, cancelled, its refund processing."""

    alipay: fakes.FakeAlipayGateway
    wechat: fakes.FakeWechatPay
    keys: fakes.TestKeys
    by_alipay: Payment
    by_wechat: Payment
    refund: Refund


@dataclass
class Post:
    url: str
    body: bytes | str | dict
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


@pytest.fixture
def world(client, alipay, wechat, keys, slot, patient, django_capture_on_commit_callbacks):  # noqa: F811
    refunded = book_slot(user=patient.user, patient=patient, slot=slot)
    paid = pay_appointment(user=patient.user, appointment=refunded, provider="wechat", method="native").payment
    body, headers = wechat.notification(paid)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(WECHAT_URL, data=body, content_type="application/json", headers=headers)
    assert answer.status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(user=patient.user, appointment=refunded)
    refund = paid.refunds.get()
    assert refund.status == Refund.Status.PROCESSING

    waiting = book_slot(user=patient.user, patient=patient, slot=slot)
    by_alipay = pay_appointment(user=patient.user, appointment=waiting, provider="alipay", method="wap").payment
    by_wechat = pay_appointment(user=patient.user, appointment=waiting, provider="wechat", method="native").payment
    return World(alipay, wechat, keys, by_alipay, by_wechat, refund)


def snapshot() -> dict[str, list[dict]]:
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in (Payment, Refund, Appointment)}


def as_post(url: str, body_and_headers: tuple) -> Post:
    body, headers = body_and_headers
    return Post(url, body, headers=headers)


def post(client, request: Post):
    if isinstance(request.body, dict) and request.content_type == "form":
        return client.post(request.url, data=request.body, headers=request.headers)
    return client.generic("POST", request.url, request.body, content_type=request.content_type, headers=request.headers)


# Alipay --------------------------------------------------------------------------------------------


def resigned(w: World, fields: dict) -> dict:
    """The fields signed again with the test "Alipay" key, as if Alipay itself had sent them."""
    fields = {key: value for key, value in fields.items() if key != "sign"}
    fields["sign"] = fakes.rsa2_sign(w.keys.alipay_platform, fakes.alipay_signing_text(fields))
    return fields


def alipay_form(build):
    return lambda w: Post(ALIPAY_URL, build(w), content_type="form")


def alipay_without(name):
    def build(w):
        fields = w.alipay.notification(w.by_alipay)
        del fields[name]
        return resigned(w, fields)

    return alipay_form(build)


def alipay_with(**overrides):
    return alipay_form(lambda w: w.alipay.notification(w.by_alipay, **overrides))


ALIPAY_REQUIRED = ["out_trade_no", "trade_status", "total_amount", "app_id", "seller_id"]
ALIPAY_ROWS = {
    **{f"alipay-missing-{name}": alipay_without(name) for name in ALIPAY_REQUIRED},
    **{f"alipay-empty-{name}": alipay_with(**{name: ""}) for name in ALIPAY_REQUIRED},
    "alipay-foreign-app_id": alipay_with(app_id="2021000000009999"),
    "alipay-foreign-seller_id": alipay_with(seller_id="2088000000000000"),
    "alipay-amount-not-a-number": alipay_with(total_amount="abc"),
    "alipay-amount-three-decimals": alipay_with(total_amount="20.001"),
    "alipay-amount-negative": alipay_with(total_amount="-20.00"),
    "alipay-amount-infinite": alipay_with(total_amount="Infinity"),
    "alipay-amount-nan": alipay_with(total_amount="NaN"),
    "alipay-amount-wrong": alipay_with(total_amount="19.99"),
    "alipay-amount-huge": alipay_with(total_amount="1e400"),
    "alipay-amount-exponent-overflow": alipay_with(total_amount="1e999999999"),
    "alipay-amount-signalling-nan": alipay_with(total_amount="sNaN"),
    "alipay-amount-tiny": alipay_with(total_amount="1e-999999999"),
    "alipay-trade_status-unknown": alipay_with(trade_status="TRADE_PAID"),
    "alipay-gmt_payment-garbage": alipay_with(gmt_payment="yesterday"),
    "alipay-gmt_payment-impossible-date": alipay_with(gmt_payment="2026-02-30 10:00:00"),
    "alipay-gmt_payment-year-1": alipay_with(gmt_payment="0001-01-01 00:00:00"),
    "alipay-nul-in-out_trade_no": alipay_with(out_trade_no="P2026\x00"),
    "alipay-nul-in-subject": alipay_with(subject="挂号费\x00"),
    "alipay-unknown-order": alipay_with(out_trade_no="P20260105UNKNOWN000000"),
    "alipay-another-providers-trade": lambda w: Post(
        ALIPAY_URL, w.alipay.notification(w.by_alipay, out_trade_no=w.by_wechat.out_trade_no), content_type="form"
    ),
    "alipay-forged-signature": alipay_form(lambda w: w.alipay.notification(w.by_alipay, sign_with=fakes.new_rsa_key())),
    "alipay-altered-after-signing": alipay_form(
        lambda w: {**w.alipay.notification(w.by_alipay), "total_amount": "0.01"}
    ),
    "alipay-unsigned": alipay_form(
        lambda w: {k: v for k, v in w.alipay.notification(w.by_alipay).items() if k != "sign"}
    ),
    "alipay-sign-not-base64": alipay_form(lambda w: {**w.alipay.notification(w.by_alipay), "sign": "not base64!"}),
    "alipay-sign-not-ascii": alipay_form(lambda w: {**w.alipay.notification(w.by_alipay), "sign": "签名签名"}),
    "alipay-other-sign_type": alipay_form(lambda w: {**w.alipay.notification(w.by_alipay), "sign_type": "RSA"}),
    "alipay-repeated-fields": alipay_form(
        lambda w: {**w.alipay.notification(w.by_alipay), "out_trade_no": [w.by_alipay.out_trade_no, "P1"]}
    ),
    "alipay-json-body": lambda w: Post(ALIPAY_URL, json.dumps(w.alipay.notification(w.by_alipay))),
    "alipay-json-numbers": lambda w: Post(
        ALIPAY_URL, json.dumps({**w.alipay.notification(w.by_alipay), "total_amount": 20.0, "app_id": 2021})
    ),
    "alipay-not-utf8": lambda w: Post(
        ALIPAY_URL, b"out_trade_no=\xff\xfe&sign=\xff&app_id=\xc3", content_type="application/x-www-form-urlencoded"
    ),
    "alipay-empty-body": lambda w: Post(ALIPAY_URL, b"", content_type="application/x-www-form-urlencoded"),
    "alipay-form-in-utf-16": lambda w: Post(
        ALIPAY_URL, "sign=x&app_id=y".encode("utf-16"), content_type="application/x-www-form-urlencoded; charset=utf-16"
    ),
    "alipay-unknown-charset": lambda w: Post(
        ALIPAY_URL, b"sign=x&app_id=y", content_type="application/x-www-form-urlencoded; charset=nonsense"
    ),
}


# WeChat Pay ----------------------------------------------------------------------------------------


def wechat_signed(w: World, url: str, body, *, timestamp=None, **header_changes) -> Post:
    """`body` (text or bytes) with headers validly signed over it, then `header_changes` (None drops one)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    headers = fakes.wechat_signed_headers(w.keys, text, timestamp=timestamp)
    for name, value in header_changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    return Post(url, body, headers=headers)


def paid_resource(w: World, **overrides) -> dict:
    return w.wechat.resource(w.by_wechat, **overrides)


def wechat_payment(build_resource=None, *, timestamp=None):
    """A TRANSACTION.SUCCESS notification for the open WeChat payment, its resource built by `build_resource`."""

    def build(w):
        resource = build_resource(w) if build_resource else paid_resource(w)
        stamp = None if timestamp is None else str(int(time.time()) + timestamp)
        body, headers = fakes.wechat_notification(
            w.keys, resource, event_type="TRANSACTION.SUCCESS", original_type="transaction", timestamp=stamp
        )
        return Post(WECHAT_URL, body, headers=headers)

    return build


def wechat_resource_with(**overrides):
    return wechat_payment(lambda w: paid_resource(w, **overrides))


def wechat_resource_without(name):
    def build_resource(w):
        resource = paid_resource(w)
        del resource[name]
        return resource

    return wechat_payment(build_resource)


def wechat_amount(amount):
    return wechat_payment(lambda w: paid_resource(w, amount=amount))


def wechat_body(build_body):
    """An envelope of our making (any JSON, or none), validly signed."""
    return lambda w: wechat_signed(w, WECHAT_URL, build_body(w))


def envelope(w, **changes) -> str:
    body = json.loads(wechat_payment()(w).body)
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not ...})


def wechat_headers(**header_changes):
    def build(w):
        body = wechat_payment()(w).body
        return wechat_signed(w, WECHAT_URL, body, **header_changes)

    return build


def encrypted(plaintext: bytes):
    return lambda w: envelope(w, resource=fakes.wechat_encrypted_resource(w.keys, plaintext))


def resource_envelope(**changes):
    def build(w):
        resource = fakes.wechat_encrypted_resource(w.keys, json.dumps(paid_resource(w)).encode())
        resource.update(changes)
        return envelope(w, resource={k: v for k, v in resource.items() if v is not ...})

    return build


WECHAT_ROWS = {
    # Timestamps: validly signed, but not within 5 minutes of now.
    "wechat-10-days-old": wechat_payment(timestamp=-10 * DAY),
    "wechat-6-minutes-old": wechat_payment(timestamp=-360),
    "wechat-6-minutes-ahead": wechat_payment(timestamp=360),
    "wechat-a-year-ahead": wechat_payment(timestamp=365 * DAY),
    "wechat-timestamp-not-a-number": wechat_headers(timestamp="soon"),
    "wechat-timestamp-fraction": wechat_headers(timestamp=f"{int(time.time())}.5"),
    "wechat-timestamp-negative": wechat_headers(timestamp="-1"),
    "wechat-timestamp-enormous": wechat_headers(timestamp="9" * 40),
    "wechat-timestamp-unicode-digits": wechat_headers(timestamp="١٧٠٠٠٠٠٠٠٠"),
    "wechat-timestamp-empty": wechat_headers(timestamp=""),
    "wechat-timestamp-missing": lambda w: wechat_signed(
        w, WECHAT_URL, wechat_payment()(w).body, Wechatpay_Timestamp=None
    ),
    # Other headers.
    "wechat-nonce-missing": lambda w: wechat_signed(w, WECHAT_URL, wechat_payment()(w).body, Wechatpay_Nonce=None),
    "wechat-signature-missing": lambda w: wechat_signed(
        w, WECHAT_URL, wechat_payment()(w).body, Wechatpay_Signature=None
    ),
    "wechat-signature-garbage": lambda w: wechat_signed(
        w, WECHAT_URL, wechat_payment()(w).body, Wechatpay_Signature="签名!"
    ),
    "wechat-signature-type-missing": lambda w: wechat_signed(
        w, WECHAT_URL, wechat_payment()(w).body, Wechatpay_Signature_Type=None
    ),
    "wechat-signature-type-other": lambda w: wechat_signed(
        w, WECHAT_URL, wechat_payment()(w).body, Wechatpay_Signature_Type="WECHATPAY2-SM2-WITH-SM3"
    ),
    "wechat-serial-missing": lambda w: wechat_signed(w, WECHAT_URL, wechat_payment()(w).body, Wechatpay_Serial=None),
    "wechat-forged-signature": lambda w: as_post(WECHAT_URL, wechat_notification_signed_by(w, fakes.new_rsa_key())),
    # The envelope: not an object, resource of the wrong type or missing, broken ciphertext.
    "wechat-body-not-json": wechat_body(lambda w: "{"),
    "wechat-body-empty": wechat_body(lambda w: ""),
    "wechat-body-list": wechat_body(lambda w: "[]"),
    "wechat-body-number": wechat_body(lambda w: "42"),
    "wechat-body-string": wechat_body(lambda w: '"TRANSACTION.SUCCESS"'),
    "wechat-body-null": wechat_body(lambda w: "null"),
    "wechat-body-not-utf8": wechat_body(lambda w: b'{"resource": "\xff\xfe"}'),
    "wechat-form-in-utf-16": lambda w: Post(
        WECHAT_URL, "a=b".encode("utf-16"), content_type="application/x-www-form-urlencoded; charset=utf-16"
    ),
    "wechat-resource-missing": wechat_body(lambda w: envelope(w, resource=...)),
    "wechat-resource-list": wechat_body(lambda w: envelope(w, resource=[1, 2])),
    "wechat-resource-string": wechat_body(lambda w: envelope(w, resource="ciphertext")),
    "wechat-resource-number": wechat_body(lambda w: envelope(w, resource=7)),
    "wechat-resource-empty": wechat_body(lambda w: envelope(w, resource={})),
    "wechat-resource_type-other": wechat_body(lambda w: envelope(w, resource_type="plain")),
    "wechat-ciphertext-number": wechat_body(resource_envelope(ciphertext=12345)),
    "wechat-ciphertext-not-base64": wechat_body(resource_envelope(ciphertext="not base64!")),
    "wechat-ciphertext-missing": wechat_body(resource_envelope(ciphertext=...)),
    "wechat-nonce-number": wechat_body(resource_envelope(nonce=123456789012)),
    "wechat-nonce-list": wechat_body(resource_envelope(nonce=["a"])),
    "wechat-associated_data-number": wechat_body(resource_envelope(associated_data=1)),
    "wechat-algorithm-other": wechat_body(resource_envelope(algorithm="AES-CBC")),
    # The decrypted resource: not an object.
    "wechat-plaintext-not-json": wechat_body(encrypted(b"paid!")),
    "wechat-plaintext-list": wechat_body(encrypted(b"[]")),
    "wechat-plaintext-number": wechat_body(encrypted(b"1")),
    "wechat-plaintext-null": wechat_body(encrypted(b"null")),
    "wechat-plaintext-not-utf8": wechat_body(encrypted(b"\xff\xfe")),
    # The decrypted resource: missing keys, wrong types, foreign merchant.
    **{
        f"wechat-missing-{name}": wechat_resource_without(name)
        for name in ["appid", "mchid", "out_trade_no", "trade_state", "amount", "transaction_id", "success_time"]
    },
    "wechat-foreign-mchid": wechat_resource_with(mchid="1900000999"),
    "wechat-foreign-appid": wechat_resource_with(appid="wx0000000000000000"),
    "wechat-mchid-number": wechat_resource_with(mchid=int(fakes.WECHAT_MCHID)),
    "wechat-appid-list": wechat_resource_with(appid=[fakes.WECHAT_APPID]),
    "wechat-out_trade_no-number": wechat_resource_with(out_trade_no=20260105),
    "wechat-out_trade_no-list": wechat_resource_with(out_trade_no=["P1"]),
    "wechat-out_trade_no-object": wechat_resource_with(out_trade_no={"id": "P1"}),
    "wechat-out_trade_no-nul": wechat_resource_with(out_trade_no="P1\x00"),
    "wechat-out_trade_no-unknown": wechat_resource_with(out_trade_no="P2026UNKNOWN"),
    "wechat-trade_state-number": wechat_resource_with(trade_state=1),
    "wechat-trade_state-list": wechat_resource_with(trade_state=["SUCCESS"]),
    "wechat-trade_state-unknown": wechat_resource_with(trade_state="PAID"),
    "wechat-amount-list": wechat_amount([2000]),
    "wechat-amount-string": wechat_amount("2000"),
    "wechat-amount-null": wechat_amount(None),
    "wechat-amount-without-total": wechat_amount({"currency": "CNY"}),
    "wechat-total-string": wechat_amount({"total": "2000", "currency": "CNY"}),
    "wechat-total-float": wechat_amount({"total": 2000.0, "currency": "CNY"}),
    "wechat-total-boolean": wechat_amount({"total": True, "currency": "CNY"}),
    "wechat-total-negative": wechat_amount({"total": -2000, "currency": "CNY"}),
    "wechat-total-wrong": wechat_amount({"total": 1, "currency": "CNY"}),
    "wechat-total-object": wechat_amount({"total": {"fen": 2000}}),
    "wechat-transaction_id-number": wechat_resource_with(transaction_id=4200000000),
    "wechat-transaction_id-list": wechat_resource_with(transaction_id=["4200"]),
    "wechat-success_time-number": wechat_resource_with(success_time=1767578462),
    "wechat-success_time-garbage": wechat_resource_with(success_time="yesterday"),
    "wechat-success_time-without-zone": wechat_resource_with(success_time="2026-01-05T10:01:02"),
    "wechat-success_time-object": wechat_resource_with(success_time={"at": "now"}),
    "wechat-success_time-before-year-1-in-utc": wechat_resource_with(success_time="0001-01-01T00:00:00+08:00"),
    "wechat-success_time-after-9999-in-utc": wechat_resource_with(success_time="9999-12-31T23:59:59-08:00"),
    "wechat-nul-in-attach": wechat_resource_with(attach="\x00"),
    "wechat-nul-in-a-key": wechat_resource_with(**{"extra\x00": "x"}),
    "wechat-the-alipay-trade": lambda w: wechat_resource_with(out_trade_no=w.by_alipay.out_trade_no)(w),
    "wechat-refund-notification-on-the-payment-url": lambda w: as_post(
        WECHAT_URL, w.wechat.refund_notification(w.refund)
    ),
}


def wechat_notification_signed_by(w: World, key):
    return fakes.wechat_notification(
        w.keys, paid_resource(w), event_type="TRANSACTION.SUCCESS", original_type="transaction", sign_with=key
    )


def refund_notification(build_resource=None, *, timestamp=None):
    def build(w):
        resource = build_resource(w) if build_resource else w.wechat.refund_resource(w.refund)
        stamp = None if timestamp is None else str(int(time.time()) + timestamp)
        body, headers = fakes.wechat_notification(
            w.keys, resource, event_type="REFUND.SUCCESS", original_type="refund", timestamp=stamp
        )
        return Post(WECHAT_REFUND_URL, body, headers=headers)

    return build


def refund_with(**overrides):
    return refund_notification(lambda w: w.wechat.refund_resource(w.refund, **overrides))


def refund_without(name):
    def build_resource(w):
        resource = w.wechat.refund_resource(w.refund)
        del resource[name]
        return resource

    return refund_notification(build_resource)


REFUND_ROWS = {
    "refund-10-days-old": refund_notification(timestamp=-10 * DAY),
    "refund-6-minutes-old": refund_notification(timestamp=-360),
    "refund-6-minutes-ahead": refund_notification(timestamp=360),
    "refund-timestamp-not-a-number": lambda w: as_post(WECHAT_REFUND_URL, refund_with_headers(w, timestamp="soon")),
    **{
        f"refund-missing-{name}": refund_without(name) for name in ["mchid", "out_refund_no", "refund_status", "amount"]
    },
    "refund-missing-out_trade_no": refund_without("out_trade_no"),
    "refund-foreign-mchid": refund_with(mchid="1900000999"),
    "refund-out_refund_no-number": refund_with(out_refund_no=5),
    "refund-out_refund_no-list": refund_with(out_refund_no=["R1"]),
    "refund-out_refund_no-unknown": refund_with(out_refund_no="R2026UNKNOWN"),
    "refund-refund_status-number": refund_with(refund_status=1),
    "refund-refund_status-list": refund_with(refund_status=["SUCCESS"]),
    "refund-refund_status-unknown": refund_with(refund_status="DONE"),
    "refund-amount-list": refund_with(amount=[2000]),
    "refund-amount-string": refund_with(amount="2000"),
    "refund-amount-without-refund": refund_with(amount={"total": 2000}),
    "refund-refund-string": refund_with(amount={"total": 2000, "refund": "2000"}),
    "refund-refund-float": refund_with(amount={"total": 2000, "refund": 2000.0}),
    "refund-refund-wrong": refund_with(amount={"total": 2000, "refund": 1}),
    "refund-out_trade_no-number": refund_with(out_trade_no=7),
    "refund-out_trade_no-of-another-payment": lambda w: refund_with(out_trade_no=w.by_wechat.out_trade_no)(w),
    "refund-refund_id-list": refund_with(refund_id=["5030"]),
    "refund-nul-in-account": refund_with(user_received_account="零钱\x00"),
    "refund-form-in-utf-16": lambda w: Post(
        WECHAT_REFUND_URL, "a=b".encode("utf-16"), content_type="application/x-www-form-urlencoded; charset=utf-16"
    ),
    "refund-plaintext-list": lambda w: as_post(
        WECHAT_REFUND_URL,
        fakes.wechat_notification(w.keys, b"[]", event_type="REFUND.SUCCESS", original_type="refund"),
    ),
    "refund-payment-notification-on-the-refund-url": lambda w: as_post(
        WECHAT_REFUND_URL, w.wechat.notification(w.refund.payment)
    ),
}


def refund_with_headers(w: World, **header_changes):
    body, _ = w.wechat.refund_notification(w.refund)
    signed = wechat_signed(w, WECHAT_REFUND_URL, body, **header_changes)
    return signed.body, signed.headers


# The matrix ------------------------------------------------------------------------------------------


ROWS = {**ALIPAY_ROWS, **WECHAT_ROWS, **REFUND_ROWS}


@pytest.mark.django_db
@pytest.mark.parametrize("build", ROWS.values(), ids=ROWS.keys())
def test_every_forged_or_malformed_notification_is_refused_with_the_providers_failure_answer(
    client, world, paid_signals, refunded_signals, build
):
    request = build(world)
    before = snapshot()

    response = post(client, request)

    assert response.status_code == 400, response.content
    if request.url == ALIPAY_URL:
        assert response.content == b"failure"
        assert response["Content-Type"].startswith("text/plain")
    else:
        answer = response.json()
        assert answer["code"] == "FAIL"
        assert isinstance(answer["message"], str) and answer["message"]
    assert snapshot() == before
    assert paid_signals.count == 0
    assert refunded_signals.count == 0


# The same world accepts the unmutated notifications, so each row above fails for its mutation alone.


@pytest.mark.django_db
def test_the_unmutated_alipay_notification_is_accepted(client, world):
    response = post(client, Post(ALIPAY_URL, world.alipay.notification(world.by_alipay), content_type="form"))

    assert response.content == b"success"
    world.by_alipay.refresh_from_db()
    assert world.by_alipay.status == Payment.Status.PAID


@pytest.mark.django_db
def test_the_unmutated_wechat_notification_is_accepted(client, world):
    response = post(client, wechat_payment()(world))

    assert response.status_code == 204
    world.by_wechat.refresh_from_db()
    assert world.by_wechat.status == Payment.Status.PAID


@pytest.mark.django_db
def test_a_wechat_notification_signed_4_minutes_ago_is_still_accepted(client, world):
    response = post(client, wechat_payment(timestamp=-240)(world))

    assert response.status_code == 204


@pytest.mark.django_db
def test_the_unmutated_wechat_refund_notification_is_accepted(client, world):
    response = post(client, refund_notification()(world))

    assert response.status_code == 204
    world.refund.refresh_from_db()
    assert world.refund.status == Refund.Status.SUCCEEDED


# Beyond the matrix: any JSON at all in the fields we read -------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
READ_FIELDS = ["appid", "mchid", "out_trade_no", "trade_state", "amount", "transaction_id", "success_time"]


@pytest.mark.slow
@pytest.mark.django_db
@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=st.dictionaries(st.sampled_from(READ_FIELDS), json_values, min_size=1))
def test_no_validly_signed_wechat_resource_is_answered_with_a_500(client, world, changes):
    response = post(client, wechat_payment(lambda w: paid_resource(w, **changes))(world))

    assert response.status_code in (204, 400), response.content
