"""Fixtures: test keys (made once per session), configured providers backed by fake servers, signal spies."""

import threading
from unittest import mock

import pytest
import responses

from payments.signals import payment_succeeded, refund_succeeded
from payments.tests import fakes


@pytest.fixture(scope="session")
def keys():
    return fakes.make_keys()


@pytest.fixture
def alipay(keys, settings):
    """Alipay configured in settings, with the gateway replaced at `alipay.urlopen`."""
    settings.ALIPAY_APP_ID = fakes.ALIPAY_APP_ID
    settings.ALIPAY_SELLER_ID = fakes.ALIPAY_SELLER_ID
    settings.ALIPAY_PRIVATE_KEY = fakes.private_pem(keys.alipay_app)
    settings.ALIPAY_PUBLIC_KEY = fakes.public_pem(keys.alipay_platform)
    settings.ALIPAY_DEBUG = True
    settings.PAYMENTS_NOTIFY_BASE_URL = "https://pay.example.org"
    gateway = fakes.FakeAlipayGateway(keys)
    with mock.patch("alipay.urlopen", side_effect=gateway):
        yield gateway


@pytest.fixture
def wechat(keys, settings):
    """WeChat Pay in public-key mode from settings, its server answered by `responses`."""
    settings.WECHATPAY_MCHID = fakes.WECHAT_MCHID
    settings.WECHATPAY_APPID = fakes.WECHAT_APPID
    settings.WECHATPAY_PRIVATE_KEY = fakes.private_pem(keys.wechat_merchant)
    settings.WECHATPAY_CERT_SERIAL_NO = fakes.WECHAT_CERT_SERIAL
    settings.WECHATPAY_APIV3_KEY = keys.apiv3_key
    settings.WECHATPAY_PUBLIC_KEY = fakes.public_pem(keys.wechat_platform)
    settings.WECHATPAY_PUBLIC_KEY_ID = fakes.WECHAT_PUBLIC_KEY_ID
    settings.PAYMENTS_NOTIFY_BASE_URL = "https://pay.example.org"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield fakes.FakeWechatPay(keys, mocked)


@pytest.fixture
def sandbox(settings):
    settings.PAYMENTS_SANDBOX = True


class SignalSpy:
    def __init__(self, signal, name):
        self.signal = signal
        self.name = name
        self.received = []
        self.lock = threading.Lock()

    def __call__(self, sender, **kwargs):
        with self.lock:
            self.received.append(kwargs[self.name])

    @property
    def count(self):
        return len(self.received)


@pytest.fixture
def paid_signals():
    spy = SignalSpy(payment_succeeded, "payment")
    payment_succeeded.connect(spy, weak=False)
    yield spy
    payment_succeeded.disconnect(spy)


@pytest.fixture
def refunded_signals():
    spy = SignalSpy(refund_succeeded, "refund")
    refund_succeeded.connect(spy, weak=False)
    yield spy
    refund_succeeded.disconnect(spy)
