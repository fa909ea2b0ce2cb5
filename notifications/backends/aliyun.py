"""Aliyun SMS (dysmsapi 2017-05-25, SendSms).

Settings (read in config/settings.py from the environment variables of the same names):
ALIYUN_SMS_ACCESS_KEY_ID, ALIYUN_SMS_ACCESS_KEY_SECRET, ALIYUN_SMS_SIGN_NAME,
ALIYUN_SMS_TEMPLATE_<CODE> (e.g. ALIYUN_SMS_TEMPLATE_BOOKING_CONFIRMED=SMS_123456789) and
optionally ALIYUN_SMS_ENDPOINT (default dysmsapi.aliyuncs.com). Aliyun templates name their
variables, so TemplateParam is the parameters as a JSON object of strings.
"""

import json

from alibabacloud_dysmsapi20170525 import models as dysms_models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.exceptions import ThrottlingException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.exceptions import ResponseException
from django.conf import settings
from Tea.exceptions import TeaException

from notifications.backends.base import SmsBackend, SmsMessage
from notifications.errors import SmsTransientError


class AliyunBackend(SmsBackend):
    # Provider faults and short-window throttling. Daily caps (isv.DAY_LIMIT_CONTROL,
    # isv.BUSINESS_LIMIT_DAY) and everything about the number, sign, template or account are
    # permanent: no retry within the task's back-off window could succeed.
    TRANSIENT_CODES = frozenset(
        {
            "isp.SYSTEM_ERROR",
            "isp.GATEWAY_ERROR",
            "isp.UNKNOWN",
            "isv.BUSINESS_LIMIT_CONTROL",
            "isv.BUSINESS_LIMIT_CONTROL_MINUTE",
            "BUSINESS_LIMIT_CONTROL_MINUTE",
            "ServiceUnavailable",
            "SignatureNonceUsed",
        }
    )
    TRANSIENT_PREFIXES = ("Throttling", "InternalError", "ServiceUnavailable")
    name = "aliyun"

    def send(self, message: SmsMessage) -> str:
        client = Client(
            Config(
                access_key_id=self.required_setting("ALIYUN_SMS_ACCESS_KEY_ID"),
                access_key_secret=self.required_setting("ALIYUN_SMS_ACCESS_KEY_SECRET"),
                endpoint=settings.ALIYUN_SMS_ENDPOINT,
                connect_timeout=5000,
                read_timeout=10000,
            )
        )
        request = dysms_models.SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=self.required_setting("ALIYUN_SMS_SIGN_NAME"),
            template_code=self.template_id("ALIYUN_SMS", message),
            template_param=json.dumps(message.params, ensure_ascii=False),
            out_id=str(message.log_id),
        )
        try:
            response = client.send_sms(request)
        except ThrottlingException as exc:
            raise SmsTransientError(str(exc.message), code=str(exc.code)) from exc
        except ResponseException as exc:
            # HTTP 4xx/5xx from the gateway (signature, access key, API-level throttling, outages).
            if (exc.status_code or 0) >= 500:
                raise SmsTransientError(str(exc.message), code=str(exc.code)) from exc
            raise self.error(str(exc.code), str(exc.message)) from exc
        except TeaException as exc:
            # The SDK wraps connection errors and timeouts (UnretryableException).
            raise SmsTransientError(str(exc), code="NetworkError") from exc
        body = response.body
        if body is None or body.code is None:
            raise SmsTransientError("empty response from Aliyun SMS", code="EmptyResponse")
        if body.code != "OK":
            raise self.error(body.code, body.message or "")
        return body.biz_id or body.request_id or ""
