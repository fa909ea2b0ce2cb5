"""Provider backends against their HTTP APIs, intercepted with `responses` (both SDKs send with requests)."""

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses

from notifications.errors import SmsTransientError
from notifications.models import NotificationLog
from notifications.services import deliver_sms
from notifications.tests.factories import NotificationLogFactory

pytestmark = pytest.mark.django_db

ALIYUN_URL = re.compile(r"https://dysmsapi\.aliyuncs\.com/.*")
TENCENT_URL = "https://sms.tencentcloudapi.com/"
CONFIRMED = {
    "patient": "张三",
    "hospital": "北京协和医院",
    "department": "心内科",
    "doctor": "李四",
    "time": "3月4日 08:30",
    "queue_number": "12",
    "order_no": "R20250304001",
    "location": "门诊楼2层B区",
}


def confirmation_log():
    return NotificationLogFactory(phone="13800138000", template="booking_confirmed", params=CONFIRMED)


@pytest.fixture
def aliyun(settings):
    settings.SMS_BACKEND = "aliyun"
    settings.ALIYUN_SMS_ACCESS_KEY_ID = "test-key-id"
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = "test-key-secret"
    settings.ALIYUN_SMS_SIGN_NAME = "协和医院"
    settings.ALIYUN_SMS_TEMPLATES = {"booking_confirmed": "SMS_460001"}
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def tencent(settings):
    settings.SMS_BACKEND = "tencent"
    settings.TENCENT_SMS_SECRET_ID = "test-secret-id"
    settings.TENCENT_SMS_SECRET_KEY = "test-secret-key"
    settings.TENCENT_SMS_SDK_APP_ID = "1400000001"
    settings.TENCENT_SMS_SIGN_NAME = "协和医院"
    settings.TENCENT_SMS_TEMPLATES = {"booking_confirmed": "2000001"}
    with responses.RequestsMock() as mock:
        yield mock


def aliyun_query(mock) -> dict[str, str]:
    (call,) = mock.calls
    return {key: values[0] for key, values in parse_qs(urlparse(call.request.url).query).items()}


def test_aliyun_sends_template_code_sign_phone_and_named_params(aliyun):
    aliyun.post(ALIYUN_URL, json={"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "r1"})
    log = confirmation_log()

    deliver_sms(log_id=log.pk)

    # The SDK signs with ACS3-HMAC-SHA256: action and version in headers, parameters in the query.
    (call,) = aliyun.calls
    assert call.request.headers["x-acs-action"] == "SendSms"
    assert call.request.headers["x-acs-version"] == "2017-05-25"
    assert call.request.headers["Authorization"].startswith("ACS3-HMAC-SHA256 Credential=test-key-id,")
    query = aliyun_query(aliyun)
    assert query["PhoneNumbers"] == "13800138000"
    assert query["SignName"] == "协和医院"
    assert query["TemplateCode"] == "SMS_460001"
    assert json.loads(query["TemplateParam"]) == CONFIRMED
    assert query["OutId"] == str(log.pk)
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.SENT
    assert log.provider == "aliyun"
    assert log.provider_message_id == "900619746936498440^0"


def test_aliyun_number_throttling_is_transient(aliyun):
    aliyun.post(
        ALIYUN_URL,
        json={"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1", "RequestId": "r2"},
    )
    log = confirmation_log()

    with pytest.raises(SmsTransientError, match=r"isv\.BUSINESS_LIMIT_CONTROL"):
        deliver_sms(log_id=log.pk)

    log.refresh_from_db()
    assert log.status == NotificationLog.Status.PENDING


def test_aliyun_api_throttling_is_transient(aliyun):
    aliyun.post(
        ALIYUN_URL, status=400, json={"Code": "Throttling.User", "Message": "Request was denied", "RequestId": "r"}
    )
    log = confirmation_log()
    with pytest.raises(SmsTransientError, match=r"Throttling\.User"):
        deliver_sms(log_id=log.pk)


def test_aliyun_network_failure_is_transient(aliyun):
    aliyun.post(ALIYUN_URL, body=requests.ConnectionError("connection reset"))
    log = confirmation_log()
    with pytest.raises(SmsTransientError, match="NetworkError"):
        deliver_sms(log_id=log.pk)


def test_aliyun_invalid_number_is_permanent(aliyun):
    aliyun.post(ALIYUN_URL, json={"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": "r3"})
    log = confirmation_log()

    deliver_sms(log_id=log.pk)

    log.refresh_from_db()
    assert log.status == NotificationLog.Status.FAILED
    assert "isv.MOBILE_NUMBER_ILLEGAL" in log.error


def test_aliyun_missing_template_id_fails_the_message(aliyun, settings):
    settings.ALIYUN_SMS_TEMPLATES = {}
    log = confirmation_log()

    deliver_sms(log_id=log.pk)

    log.refresh_from_db()
    assert log.status == NotificationLog.Status.FAILED
    assert "ALIYUN_SMS_TEMPLATE_BOOKING_CONFIRMED" in log.error
    assert not aliyun.calls


def tencent_ok(serial_no="2433:328958424717209829040436710"):
    return {
        "Response": {
            "SendStatusSet": [
                {
                    "SerialNo": serial_no,
                    "PhoneNumber": "+8613800138000",
                    "Fee": 1,
                    "SessionContext": "",
                    "Code": "Ok",
                    "Message": "send success",
                    "IsoCode": "CN",
                }
            ],
            "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
        }
    }


def tencent_status(code, message):
    body = tencent_ok()
    body["Response"]["SendStatusSet"][0].update(Code=code, Message=message, SerialNo="", Fee=0)
    return body


def test_tencent_sends_template_id_sign_phone_and_ordered_params(tencent):
    tencent.post(TENCENT_URL, json=tencent_ok())
    log = confirmation_log()

    deliver_sms(log_id=log.pk)

    (call,) = tencent.calls
    assert call.request.headers["X-TC-Action"] == "SendSms"
    assert call.request.headers["X-TC-Version"] == "2021-01-11"
    assert call.request.headers["X-TC-Region"] == "ap-guangzhou"
    body = json.loads(call.request.body)
    assert body["PhoneNumberSet"] == ["+8613800138000"]
    assert body["SmsSdkAppId"] == "1400000001"
    assert body["SignName"] == "协和医院"
    assert body["TemplateId"] == "2000001"
    assert body["TemplateParamSet"] == [
        "张三",
        "北京协和医院",
        "心内科",
        "李四",
        "3月4日 08:30",
        "12",
        "R20250304001",
        "门诊楼2层B区",
    ]
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.SENT
    assert log.provider == "tencent"
    assert log.provider_message_id == "2433:328958424717209829040436710"


def test_tencent_number_throttling_is_transient(tencent):
    tencent.post(
        TENCENT_URL, json=tencent_status("LimitExceeded.PhoneNumberThirtySecondLimit", "30秒内同一手机号限制发送")
    )
    log = confirmation_log()

    with pytest.raises(SmsTransientError, match="PhoneNumberThirtySecondLimit"):
        deliver_sms(log_id=log.pk)

    log.refresh_from_db()
    assert log.status == NotificationLog.Status.PENDING


def test_tencent_api_rate_limit_is_transient(tencent):
    tencent.post(
        TENCENT_URL,
        json={
            "Response": {
                "Error": {"Code": "RequestLimitExceeded", "Message": "请求的次数超过了频率限制"},
                "RequestId": "r",
            }
        },
    )
    log = confirmation_log()
    with pytest.raises(SmsTransientError, match="RequestLimitExceeded"):
        deliver_sms(log_id=log.pk)


def test_tencent_daily_cap_is_permanent(tencent):
    tencent.post(
        TENCENT_URL, json=tencent_status("LimitExceeded.PhoneNumberDailyLimit", "单个手机号日下发条数超过上限")
    )
    log = confirmation_log()

    deliver_sms(log_id=log.pk)

    log.refresh_from_db()
    assert log.status == NotificationLog.Status.FAILED


def test_tencent_unapproved_template_is_permanent(tencent):
    tencent.post(
        TENCENT_URL,
        json={
            "Response": {
                "Error": {"Code": "FailedOperation.TemplateIncorrectOrUnapproved", "Message": "模板未审批或内容不匹配"},
                "RequestId": "r",
            }
        },
    )
    log = confirmation_log()

    deliver_sms(log_id=log.pk)

    log.refresh_from_db()
    assert log.status == NotificationLog.Status.FAILED
    assert "FailedOperation.TemplateIncorrectOrUnapproved" in log.error
