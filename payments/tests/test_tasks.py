import datetime

import pytest
from django.utils import timezone

from payments import services, tasks
from payments.errors import ProviderError
from payments.models import Method, Payment, Provider, Refund
from payments.tests import fakes
from payments.tests.factories import PaymentFactory, RefundFactory


def paid_wechat_payment(wechat):
    payment = PaymentFactory(provider=Provider.WECHAT, method=Method.NATIVE)
    wechat.buyer_pays(payment)
    services.query_and_sync(payment=payment)
    return payment


@pytest.mark.django_db
def test_sweep_submits_pending_refunds_and_completes_processing_ones(wechat, refunded_signals):
    stuck = RefundFactory(payment=paid_wechat_payment(wechat))  # never reached WeChat
    Payment.objects.filter(pk=stuck.payment_id).update(status=Payment.Status.REFUNDING)
    old = timezone.now() - datetime.timedelta(minutes=10)
    Refund.objects.filter(pk=stuck.pk).update(updated_at=old)
    wechat.refund_result = "SUCCESS"

    assert tasks.sweep_processing_refunds.delay().get() == 1

    stuck.refresh_from_db()
    assert stuck.status == Refund.Status.SUCCEEDED
    assert refunded_signals.received == [stuck]
    assert tasks.sweep_processing_refunds.delay().get() == 0


@pytest.mark.django_db
def test_sweep_leaves_fresh_refunds_alone(wechat):
    RefundFactory(payment=paid_wechat_payment(wechat))

    assert tasks.sweep_processing_refunds.delay().get() == 0
    assert not [path for path in wechat.paths_called() if "refund" in path]


@pytest.mark.django_db
def test_refresh_refund_task_queries_a_processing_wechat_refund(wechat, django_capture_on_commit_callbacks):
    payment = paid_wechat_payment(wechat)
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.request_refund(order_no=payment.order_no, reason="停诊")
    wechat.refunds[refund.refund_no]["status"] = "SUCCESS"

    assert tasks.refresh_refund.delay(refund.pk).get() == Refund.Status.SUCCEEDED


@pytest.mark.django_db
def test_settle_or_close_task_closes_an_unpaid_order(alipay):
    payment = PaymentFactory(provider=Provider.ALIPAY)

    assert tasks.settle_or_close_order.delay(payment.order_no).get() is False
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CLOSED


@pytest.mark.django_db
def test_a_wechat_answer_with_a_forged_signature_is_not_believed(wechat, keys, monkeypatch):
    payment = PaymentFactory(provider=Provider.WECHAT, method=Method.NATIVE)
    wechat.buyer_pays(payment)
    impostor = fakes.TestKeys(
        alipay_app=None,
        alipay_platform=None,
        wechat_merchant=None,
        wechat_platform=fakes.new_rsa_key(),
        apiv3_key=keys.apiv3_key,
    )
    monkeypatch.setattr(wechat, "keys", impostor)

    with pytest.raises(ProviderError):
        services.query_and_sync(payment=payment)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED


@pytest.mark.django_db
def test_an_alipay_answer_with_a_forged_signature_is_not_believed(alipay, monkeypatch):
    payment = PaymentFactory(provider=Provider.ALIPAY)
    alipay.buyer_pays(payment)
    monkeypatch.setattr(alipay, "keys", fakes.TestKeys(alipay.keys.alipay_app, fakes.new_rsa_key(), None, None, ""))

    with pytest.raises(ProviderError):
        services.settle_or_close(order_no=payment.order_no)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
