import datetime
import time
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from payments import services
from payments.models import Method, Payment, Provider
from payments.providers.sandbox import RETURN_PAGE_MAX_AGE, SANDBOX_PAGE_MAX_AGE, page_token
from payments.tests.factories import PaymentFactory


def sandbox_start(order_no="GH20260105777", **overrides):
    arguments = {
        "order_no": order_no,
        "amount_fen": 500,
        "subject": "门诊挂号费",
        "provider": Provider.SANDBOX,
        "method": Method.PAGE,
        "expires_at": timezone.now() + datetime.timedelta(minutes=10),
        "return_url": "/appointments/7/",
    }
    arguments.update(overrides)
    return services.start_payment(**arguments)


# 模拟支付 sandbox --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sandbox_pages_do_not_exist_when_the_sandbox_is_off(client):
    payment = PaymentFactory(provider=Provider.SANDBOX, method=Method.PAGE)
    url = reverse("payments:sandbox_page", kwargs={"token": page_token(payment.pk)})

    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


@pytest.mark.django_db
def test_sandbox_page_shows_the_order_and_a_clearly_labelled_button(client, sandbox):
    started = sandbox_start()

    response = client.get(started.redirect_url)

    page = response.content.decode()
    assert response.status_code == 200
    assert "模拟支付" in page
    assert "确认支付" in page
    assert "GH20260105777" in page
    assert "¥5.00" in page


@pytest.mark.django_db
def test_pressing_confirm_settles_through_the_notification_path_and_redirects(client, sandbox, paid_signals):
    started = sandbox_start()

    response = client.post(started.redirect_url)

    return_url = reverse("payments:return_page", kwargs={"token": page_token(started.payment.pk)})
    assert response.status_code == 302
    assert response["Location"] == return_url
    payment = started.payment
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert payment.provider_trade_no.startswith("SANDBOX")
    assert payment.notification["out_trade_no"] == payment.out_trade_no
    assert paid_signals.received == [payment]

    landing = client.get(return_url).content.decode()
    assert "支付成功" in landing
    assert 'href="/appointments/7/"' in landing

    client.post(started.redirect_url)  # pressed twice
    assert paid_signals.count == 1


@pytest.mark.django_db
def test_sandbox_refuses_a_closed_payment(client, sandbox, paid_signals):
    started = sandbox_start()
    services.settle_or_close(order_no=started.payment.order_no)

    response = client.post(started.redirect_url)

    assert response.status_code == 200
    assert "已关闭" in response.content.decode()
    started.payment.refresh_from_db()
    assert started.payment.status == Payment.Status.CLOSED
    assert paid_signals.count == 0


@pytest.mark.django_db
def test_sandbox_tokens_cannot_be_guessed(client, sandbox):
    payment = sandbox_start().payment
    forged = page_token(payment.pk)[:-2] + "xx"

    assert client.get(reverse("payments:sandbox_page", kwargs={"token": forged})).status_code == 404
    assert client.get(reverse("payments:sandbox_page", kwargs={"token": str(payment.pk)})).status_code == 404


@pytest.mark.django_db
def test_sandbox_page_is_only_for_sandbox_payments(client, sandbox):
    payment = PaymentFactory(provider=Provider.ALIPAY)

    assert client.get(reverse("payments:sandbox_page", kwargs={"token": page_token(payment.pk)})).status_code == 404


def token_made(seconds_ago: int, payment_id: int) -> str:
    """A page token as page_token made it `seconds_ago` (TimestampSigner stamps it with time.time())."""
    with mock.patch("django.core.signing.time.time", return_value=time.time() - seconds_ago):
        return page_token(payment_id)


@pytest.mark.django_db
def test_an_expired_sandbox_link_shows_a_clear_page_and_pays_nothing(client, sandbox, paid_signals):
    payment = sandbox_start().payment
    url = reverse("payments:sandbox_page", kwargs={"token": token_made(SANDBOX_PAGE_MAX_AGE + 5, payment.pk)})

    shown = client.get(url)
    pressed = client.post(url)

    assert shown.status_code == pressed.status_code == 410
    assert "链接已过期" in shown.content.decode()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
    assert paid_signals.count == 0


@pytest.mark.django_db
def test_a_sandbox_link_works_until_it_expires(client, sandbox):
    payment = sandbox_start().payment
    url = reverse("payments:sandbox_page", kwargs={"token": token_made(SANDBOX_PAGE_MAX_AGE - 60, payment.pk)})

    assert client.get(url).status_code == 200


# Return page ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_expired_return_link_shows_a_clear_page_without_asking_the_provider(client, alipay):
    payment = PaymentFactory(provider=Provider.ALIPAY)
    alipay.buyer_pays(payment)
    expired = token_made(RETURN_PAGE_MAX_AGE + 5, payment.pk)
    fresh = token_made(RETURN_PAGE_MAX_AGE - 60, payment.pk)

    response = client.get(reverse("payments:return_page", kwargs={"token": expired}))

    assert response.status_code == 410
    assert "链接已过期" in response.content.decode()
    assert alipay.methods_called() == []
    assert client.get(reverse("payments:return_page", kwargs={"token": fresh})).status_code == 200


@pytest.mark.django_db
def test_return_page_never_marks_paid_from_the_query_string(client, alipay, paid_signals):
    payment = PaymentFactory(provider=Provider.ALIPAY)
    alipay.buyer_opens(payment)
    url = reverse("payments:return_page", kwargs={"token": page_token(payment.pk)})
    # What a browser (or a forger) brings back: Alipay's synchronous return parameters.
    forged = {
        "out_trade_no": payment.out_trade_no,
        "total_amount": "12.50",
        "trade_no": "2026010522001",
        "trade_status": "TRADE_SUCCESS",
        "sign": "anything",
        "sign_type": "RSA2",
    }

    response = client.get(url, forged)

    assert "支付处理中" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
    assert paid_signals.count == 0
    assert alipay.methods_called() == ["alipay.trade.query"]


@pytest.mark.django_db
def test_return_page_settles_after_an_active_query_says_paid(client, alipay, paid_signals):
    payment = PaymentFactory(provider=Provider.ALIPAY)
    alipay.buyer_pays(payment)

    response = client.get(reverse("payments:return_page", kwargs={"token": page_token(payment.pk)}))

    assert "支付成功" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert paid_signals.count == 1


@pytest.mark.django_db
def test_return_page_survives_a_provider_outage(client, alipay):
    payment = PaymentFactory(provider=Provider.ALIPAY)
    alipay.fail_with = OSError("timed out")

    response = client.get(reverse("payments:return_page", kwargs={"token": page_token(payment.pk)}))

    assert response.status_code == 200
    assert "支付处理中" in response.content.decode()


@pytest.mark.django_db
def test_return_page_does_not_link_to_other_sites(client, alipay):
    payment = PaymentFactory(provider=Provider.ALIPAY, return_url="https://evil.example.com/")
    alipay.buyer_opens(payment)

    page = client.get(reverse("payments:return_page", kwargs={"token": page_token(payment.pk)})).content.decode()

    assert "evil.example.com" not in page


@pytest.mark.django_db
def test_admin_lists_payments_read_only(admin_client):
    payment = PaymentFactory(order_no="GH-ADMIN-1")

    listing = admin_client.get(reverse("admin:payments_payment_changelist"), {"q": "GH-ADMIN-1"})
    detail = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))

    assert listing.status_code == 200 and "GH-ADMIN-1" in listing.content.decode()
    assert detail.status_code == 200
    assert 'name="amount_fen"' not in detail.content.decode()
    assert admin_client.get(reverse("admin:payments_refund_changelist")).status_code == 200
