"""Every registered template, with every parameter, in the format each SMS provider receives:
Aliyun's named TemplateParam (JSON object) and Tencent's ordered TemplateParamSet."""

import datetime
import json

import pytest

from notifications.models import NotificationLog
from notifications.services import deliver_sms, send_sms
from notifications.templates_sms import MOMENTS, SMS_TEMPLATES
from notifications.tests.test_backends import ALIYUN_URL, TENCENT_URL, aliyun_query, tencent_ok

pytestmark = pytest.mark.django_db

MOMENT = datetime.datetime(2025, 3, 4, 0, 30, tzinfo=datetime.UTC)
CODES = sorted(SMS_TEMPLATES)


def sample_params(code):
    template = SMS_TEMPLATES[code]
    return {
        name: MOMENT if name in MOMENTS else (1250 if name in template.money else f"v{index}")
        for index, name in enumerate(template.params)
    }


def logged(code, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return send_sms(phone="13800138000", template=code, params=sample_params(code))


@pytest.fixture
def provider_ids(settings):
    settings.ALIYUN_SMS_ACCESS_KEY_ID = "test-key-id"
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = "test-key-secret"
    settings.ALIYUN_SMS_SIGN_NAME = "协和医院"
    settings.ALIYUN_SMS_TEMPLATES = {code: f"SMS_{i}" for i, code in enumerate(CODES)}
    settings.TENCENT_SMS_SECRET_ID = "test-secret-id"
    settings.TENCENT_SMS_SECRET_KEY = "test-secret-key"
    settings.TENCENT_SMS_SDK_APP_ID = "1400000001"
    settings.TENCENT_SMS_SIGN_NAME = "协和医院"
    settings.TENCENT_SMS_TEMPLATES = {code: str(2000000 + i) for i, code in enumerate(CODES)}


def expected_values(log):
    return [log.params[name] for name in SMS_TEMPLATES[log.template].params]


@pytest.mark.parametrize("code", CODES)
def test_aliyun_receives_every_named_parameter(code, provider_ids, settings, django_capture_on_commit_callbacks):
    import responses

    settings.SMS_BACKEND = "aliyun"
    log = logged(code, django_capture_on_commit_callbacks)
    with responses.RequestsMock() as mock:
        mock.post(ALIYUN_URL, json={"Code": "OK", "Message": "OK", "BizId": "1^0", "RequestId": "r"})
        deliver_sms(log_id=log.pk)
        query = aliyun_query(mock)
    sent = json.loads(query["TemplateParam"])
    assert set(sent) == set(SMS_TEMPLATES[code].params)
    assert sent == log.params
    assert all(value.strip() for value in sent.values())
    assert query["TemplateCode"] == f"SMS_{CODES.index(code)}"
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.SENT
    assert "{" not in log.text


@pytest.mark.parametrize("code", CODES)
def test_tencent_receives_every_parameter_in_order(code, provider_ids, settings, django_capture_on_commit_callbacks):
    import responses

    settings.SMS_BACKEND = "tencent"
    log = logged(code, django_capture_on_commit_callbacks)
    values = expected_values(log)
    with responses.RequestsMock() as mock:
        mock.post(TENCENT_URL, json=tencent_ok())
        deliver_sms(log_id=log.pk)
        body = json.loads(mock.calls[0].request.body)
    assert body["TemplateId"] == str(2000000 + CODES.index(code))
    assert body.get("TemplateParamSet", []) == values
    assert all(value.strip() for value in values)
    log.refresh_from_db()
    assert log.status == NotificationLog.Status.SENT
