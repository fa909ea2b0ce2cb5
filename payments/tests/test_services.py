import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from payments import services
from payments.errors import (
    InvalidAmount,
    OrderAlreadyPaid,
    PaymentExpired,
    ProviderError,
    ProviderUnavailable,
    UnsupportedMethod,
)
from payments.models import Method, Payment, Provider, Refund
from payments.signals import payment_succeeded
from payments.tests.factories import PaymentFactory

WECHAT_REFUND_URL = reverse("payments:notify_wechat_refund")


def in_minutes(n):
    return timezone.now() + datetime.timedelta(minutes=n)


def start(**overrides):
    arguments = {
        "order_no": "GH20260105001",
        "amount_fen": 1250,
        "subject": "门诊挂号费 内科 王医生",
        "provider": Provider.ALIPAY,
        "method": Method.WAP,
        "expires_at": in_minutes(10),
        "client_ip": "203.0.113.7",
        "return_url": "/appointments/1/",
    }
    arguments.update(overrides)
    return services.start_payment(**arguments)


def settle(payment, notify_client, gateway):
    """Deliver the provider's paid notification through the real endpoint."""
    if payment.provider == Provider.ALIPAY:
        response = notify_client.post(reverse("payments:notify_alipay"), data=gateway.notification(payment))
    else:
        body, headers = gateway.notification(payment)
        response = notify_client.post(
            reverse("payments:notify_wechat"), data=body, content_type="application/json", headers=headers
        )
    assert response.status_code in (200, 204)
    payment.refresh_from_db()


@pytest.fixture
def refund_now(django_capture_on_commit_callbacks):
    """request_refund as seen outside a transaction: the provider call runs when it commits."""

    def request(order_no, reason="取消预约"):
        with django_capture_on_commit_callbacks(execute=True):
            refund = services.request_refund(order_no=order_no, reason=reason)
        if refund is not None:
            refund.refresh_from_db()
        return refund

    return request


# start_payment -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_alipay_wap_payment_redirects_to_a_signed_gateway_url_without_network(alipay):
    started = start()

    url = urlsplit(started.redirect_url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
    assert query["method"] == "alipay.trade.wap.pay"
    assert query["sign_type"] == "RSA2" and query["sign"]
    assert query["notify_url"] == "https://pay.example.org/payments/notify/alipay/"
    assert query["return_url"].startswith("https://pay.example.org/payments/return/")
    assert '"total_amount":"12.50"' in query["biz_content"]
    assert started.payment.out_trade_no in query["biz_content"]
    assert started.payment.status == Payment.Status.CREATED
    assert alipay.calls == []


@pytest.mark.django_db
def test_alipay_page_pay_uses_the_pc_product(alipay):
    started = start(method=Method.PAGE)

    assert "alipay.trade.page.pay" in started.redirect_url
    assert "FAST_INSTANT_TRADE_PAY" in parse_qs(urlsplit(started.redirect_url).query)["biz_content"][0]


@pytest.mark.django_db
def test_wechat_native_payment_returns_a_code_url(wechat):
    started = start(provider=Provider.WECHAT, method=Method.NATIVE)

    assert started.code_url.startswith("weixin://wxpay/bizpayurl?pr=")
    method, path, body = wechat.requests[0]
    assert (method, path) == ("POST", "/v3/pay/transactions/native")
    assert body["amount"] == {"total": 1250, "currency": "CNY"}
    assert body["notify_url"] == "https://pay.example.org/payments/notify/wechat/"
    assert body["time_expire"].endswith("+08:00")


@pytest.mark.django_db
def test_wechat_h5_payment_sends_the_payer_ip_and_returns_a_redirect(wechat):
    started = start(provider=Provider.WECHAT, method=Method.H5)

    assert started.redirect_url.startswith("https://wx.tenpay.com/")
    assert "redirect_url=https%3A%2F%2Fpay.example.org%2Fpayments%2Freturn%2F" in started.redirect_url
    assert wechat.requests[0][2]["scene_info"]["payer_client_ip"] == "203.0.113.7"


@pytest.mark.django_db
def test_starting_again_reuses_the_open_payment(alipay):
    first = start()
    second = start()

    assert second.payment.pk == first.payment.pk
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_a_paid_order_cannot_be_paid_again(alipay, client):
    payment = start().payment
    settle(payment, client, alipay)

    with pytest.raises(OrderAlreadyPaid):
        start(method=Method.PAGE)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"amount_fen": 0}, InvalidAmount),
        ({"amount_fen": 12.5}, InvalidAmount),
        ({"method": Method.NATIVE}, UnsupportedMethod),
        ({"provider": "paypal"}, ProviderUnavailable),
        ({"expires_at": in_minutes(-1)}, PaymentExpired),
    ],
)
def test_start_payment_refuses_bad_requests(alipay, overrides, error):
    with pytest.raises(error):
        start(**overrides)
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_unconfigured_providers_are_unavailable_not_a_crash():
    with pytest.raises(ProviderUnavailable) as raised:
        start()
    assert raised.value.code == "provider_unavailable"
    with pytest.raises(ProviderUnavailable):
        start(provider=Provider.WECHAT, method=Method.NATIVE)


@pytest.mark.django_db
def test_sandbox_is_unavailable_unless_switched_on(settings):
    with pytest.raises(ProviderUnavailable):
        start(provider=Provider.SANDBOX, method=Method.PAGE)

    settings.PAYMENTS_SANDBOX = True
    assert start(provider=Provider.SANDBOX, method=Method.PAGE).redirect_url.startswith("/payments/sandbox/")


@pytest.mark.django_db
def test_unreadable_keys_make_the_provider_unavailable(alipay, settings):
    settings.ALIPAY_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"

    with pytest.raises(ProviderUnavailable):
        start()


# settle_or_close -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["alipay", "wechat"])
def test_settle_or_close_settles_an_order_the_buyer_did_pay(request, provider, paid_signals):
    gateway = request.getfixturevalue(provider)
    method = Method.WAP if provider == "alipay" else Method.NATIVE
    payment = start(provider=provider, method=method).payment
    gateway.buyer_pays(payment)

    assert services.settle_or_close(order_no=payment.order_no) is True

    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert payment.provider_trade_no
    assert paid_signals.received == [payment]
    assert services.settle_or_close(order_no=payment.order_no) is True  # twice is harmless
    assert paid_signals.count == 1


@pytest.mark.django_db
def test_settle_or_close_closes_an_unpaid_alipay_order_at_alipay(alipay, paid_signals):
    payment = start().payment
    alipay.buyer_opens(payment)

    assert services.settle_or_close(order_no=payment.order_no) is False

    payment.refresh_from_db()
    assert payment.status == Payment.Status.CLOSED
    assert alipay.methods_called() == ["alipay.trade.query", "alipay.trade.close"]
    assert alipay.trades[payment.out_trade_no]["trade_status"] == "TRADE_CLOSED"
    assert services.settle_or_close(order_no=payment.order_no) is False
    assert paid_signals.count == 0


@pytest.mark.django_db
def test_settle_or_close_closes_an_unpaid_wechat_order_at_wechat(wechat):
    payment = start(provider=Provider.WECHAT, method=Method.NATIVE).payment

    assert services.settle_or_close(order_no=payment.order_no) is False

    payment.refresh_from_db()
    assert payment.status == Payment.Status.CLOSED
    assert wechat.trades[payment.out_trade_no]["trade_state"] == "CLOSED"
    assert wechat.paths_called() == [
        "POST /v3/pay/transactions/native",
        f"GET /v3/pay/transactions/out-trade-no/{payment.out_trade_no}",
        f"POST /v3/pay/transactions/out-trade-no/{payment.out_trade_no}/close",
    ]


@pytest.mark.django_db
def test_settle_or_close_without_any_payment_is_false():
    assert services.settle_or_close(order_no="GH-NEVER-STARTED") is False


@pytest.mark.django_db
def test_settle_or_close_changes_nothing_when_the_provider_cannot_answer(alipay):
    payment = start().payment
    alipay.fail_with = OSError("connection reset")

    with pytest.raises(ProviderError):
        services.settle_or_close(order_no=payment.order_no)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


@pytest.mark.django_db
def test_payment_paid_between_query_and_close_is_settled(wechat, paid_signals):
    payment = start(provider=Provider.WECHAT, method=Method.NATIVE).payment
    wechat.before_close = lambda: wechat.buyer_pays(payment)

    assert services.settle_or_close(order_no=payment.order_no) is True

    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert paid_signals.count == 1


# Late payment ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_notification_after_the_order_was_closed_still_records_the_payment(alipay, client, paid_signals):
    payment = start().payment
    alipay.buyer_opens(payment)
    services.settle_or_close(order_no=payment.order_no)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CLOSED

    alipay.buyer_pays(payment)  # the money arrived after all (e.g. a delayed bank channel)
    settle(payment, client, alipay)

    assert payment.status == Payment.Status.PAID
    assert paid_signals.received == [payment]


@pytest.mark.django_db
def test_a_receiver_can_refund_a_late_payment_inside_the_signal(
    alipay, client, paid_signals, refunded_signals, django_capture_on_commit_callbacks
):
    """What booking does for an expired order: ask for the refund from the payment_succeeded receiver."""
    payment = start().payment
    alipay.buyer_opens(payment)
    services.settle_or_close(order_no=payment.order_no)
    alipay.buyer_pays(payment)

    def refund_late_payment(sender, payment, **kwargs):
        services.request_refund(order_no=payment.order_no, reason="订单已超时")

    payment_succeeded.connect(refund_late_payment, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            settle(payment, client, alipay)
    finally:
        payment_succeeded.disconnect(refund_late_payment)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert payment.refunds.get().status == Refund.Status.SUCCEEDED
    assert refunded_signals.count == 1


@pytest.mark.django_db
def test_a_failing_refund_call_never_undoes_the_payment(
    alipay, client, paid_signals, django_capture_on_commit_callbacks
):
    payment = start().payment

    def refund_with_provider_down(sender, payment, **kwargs):
        alipay.fail_with = OSError("gateway down")
        services.request_refund(order_no=payment.order_no, reason="订单已超时")

    payment_succeeded.connect(refund_with_provider_down, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            settle(payment, client, alipay)
    finally:
        payment_succeeded.disconnect(refund_with_provider_down)

    payment.refresh_from_db()
    assert payment.is_paid
    assert payment.status == Payment.Status.REFUNDING
    refund = payment.refunds.get()
    assert refund.status == Refund.Status.PENDING
    assert refund.last_error

    alipay.fail_with = None
    assert services.refresh_refund(refund_id=refund.pk).status == Refund.Status.SUCCEEDED


@pytest.mark.django_db
def test_a_second_payment_of_a_paid_order_is_refunded_automatically(
    alipay, wechat, client, paid_signals, django_capture_on_commit_callbacks
):
    by_alipay = start().payment
    by_wechat = start(provider=Provider.WECHAT, method=Method.NATIVE).payment
    settle(by_alipay, client, alipay)

    with django_capture_on_commit_callbacks(execute=True):
        settle(by_wechat, client, wechat)

    assert by_alipay.status == Payment.Status.PAID
    assert by_wechat.status == Payment.Status.REFUNDING
    assert by_wechat.refunds.get().status == Refund.Status.PROCESSING
    assert paid_signals.received == [by_alipay]


# Refunds ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_alipay_refund_is_synchronous_and_idempotent(refund_now, alipay, client, refunded_signals):
    payment = start().payment
    settle(payment, client, alipay)

    first = refund_now(payment.order_no, "患者取消预约")
    second = refund_now(payment.order_no, "患者取消预约")

    assert first.pk == second.pk
    assert first.status == Refund.Status.SUCCEEDED
    assert Refund.objects.count() == 1
    assert alipay.methods_called().count("alipay.trade.refund") == 1
    refund_call = next(biz for method, biz in alipay.calls if method == "alipay.trade.refund")
    assert refund_call == {
        "refund_amount": "12.50",
        "out_trade_no": payment.out_trade_no,
        "out_request_no": first.refund_no,
        "refund_reason": "患者取消预约",
    }
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert refunded_signals.received == [first]


@pytest.mark.django_db
def test_refund_of_an_unpaid_order_is_none(refund_now, alipay):
    payment = start().payment

    assert refund_now(payment.order_no, "取消") is None
    assert services.request_refund(order_no="GH-UNKNOWN", reason="取消") is None


@pytest.mark.django_db
def test_wechat_refund_processes_until_the_refund_notification(refund_now, wechat, client, refunded_signals):
    payment = start(provider=Provider.WECHAT, method=Method.NATIVE).payment
    settle(payment, client, wechat)

    refund = refund_now(payment.order_no, "停诊")
    again = refund_now(payment.order_no, "停诊")

    assert refund.pk == again.pk
    assert refund.status == Refund.Status.PROCESSING
    assert refund.provider_refund_id.startswith("5030")
    assert refunded_signals.count == 0
    refund_request = next(body for method, path, body in wechat.requests if path == "/v3/refund/domestic/refunds")
    assert refund_request["amount"] == {"refund": 1250, "total": 1250, "currency": "CNY"}
    assert refund_request["notify_url"] == "https://pay.example.org/payments/notify/wechat/refund/"

    body, headers = wechat.refund_notification(refund)
    for _ in range(2):
        response = client.post(WECHAT_REFUND_URL, data=body, content_type="application/json", headers=headers)
        assert response.status_code == 204

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert payment.status == Payment.Status.REFUNDED
    assert refunded_signals.received == [refund]


@pytest.mark.django_db
def test_wechat_refund_query_completes_a_processing_refund(refund_now, wechat, client, refunded_signals):
    payment = start(provider=Provider.WECHAT, method=Method.NATIVE).payment
    settle(payment, client, wechat)
    refund = refund_now(payment.order_no, "停诊")
    wechat.refunds[refund.refund_no]["status"] = "SUCCESS"

    refund = services.refresh_refund(refund_id=refund.pk)

    assert refund.status == Refund.Status.SUCCEEDED
    assert refunded_signals.count == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"amount": {"total": 1250, "refund": 1, "payer_total": 1250, "payer_refund": 1}}, id="amount"),
        pytest.param({"mchid": "1900000999"}, id="wrong-mchid"),
        pytest.param({"out_refund_no": "R2026UNKNOWN"}, id="unknown-refund"),
        pytest.param({"out_trade_no": "P2026SOMETHINGELSE"}, id="other-trade"),
    ],
)
def test_wechat_mismatched_refund_notifications_are_rejected(refund_now, wechat, client, refunded_signals, tamper):
    payment = start(provider=Provider.WECHAT, method=Method.NATIVE).payment
    settle(payment, client, wechat)
    refund = refund_now(payment.order_no, "停诊")
    body, headers = wechat.refund_notification(refund, **tamper)

    response = client.post(WECHAT_REFUND_URL, data=body, content_type="application/json", headers=headers)

    assert response.status_code == 400
    assert response.json()["code"] == "FAIL"
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING
    assert refunded_signals.count == 0


@pytest.mark.django_db
def test_wechat_abnormal_refund_fails_and_the_money_is_held_again(refund_now, wechat, client):
    payment = start(provider=Provider.WECHAT, method=Method.NATIVE).payment
    settle(payment, client, wechat)
    refund = refund_now(payment.order_no, "停诊")
    body, headers = wechat.refund_notification(refund, status="ABNORMAL")

    client.post(WECHAT_REFUND_URL, data=body, content_type="application/json", headers=headers)

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert payment.status == Payment.Status.PAID
    retry = refund_now(payment.order_no, "停诊")
    assert retry.pk != refund.pk and retry.status == Refund.Status.PROCESSING


@pytest.mark.django_db
def test_payment_factory_defaults_are_a_valid_open_payment():
    payment = PaymentFactory()
    assert payment.status == Payment.Status.CREATED and payment.amount_yuan == "12.50"
