"""Tencent Cloud SMS (sms v20210111, SendSms).

Settings (read in config/settings.py from the environment variables of the same names):
TENCENT_SMS_SECRET_ID, TENCENT_SMS_SECRET_KEY, TENCENT_SMS_SDK_APP_ID,
TENCENT_SMS_SIGN_NAME, TENCENT_SMS_TEMPLATE_<CODE> (numeric template id) and optionally
TENCENT_SMS_REGION (default ap-guangzhou). Tencent templates number their variables
({1}, {2}, …), filled from the template's `params` order in notifications.templates_sms.
"""

from django.conf import settings
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models as sms_models
from tencentcloud.sms.v20210111.sms_client import SmsClient

from notifications.backends.base import SmsBackend, SmsMessage
from notifications.errors import SmsTransientError


class TencentBackend(SmsBackend):
    # Network and provider faults and short-window throttling. Hourly and daily caps per number
    # (LimitExceeded.PhoneNumberOneHourLimit, …DailyLimit, …SameContentDailyLimit,
    # AppDailyLimit) are permanent: no retry within the task's back-off window could succeed.
    TRANSIENT_CODES = frozenset(
        {
            "ClientNetworkError",
            "ServerNetworkError",
            "LimitExceeded.PhoneNumberThirtySecondLimit",
            "LimitExceeded.DeliveryFrequencyLimit",
            "FailedOperation.FailResolvePacket",
        }
    )
    TRANSIENT_PREFIXES = ("RequestLimitExceeded", "InternalError", "ResourceUnavailable")
    name = "tencent"

    def send(self, message: SmsMessage) -> str:
        client = SmsClient(
            credential.Credential(
                self.required_setting("TENCENT_SMS_SECRET_ID"), self.required_setting("TENCENT_SMS_SECRET_KEY")
            ),
            settings.TENCENT_SMS_REGION,
            ClientProfile(httpProfile=HttpProfile(endpoint="sms.tencentcloudapi.com", reqTimeout=10)),
        )
        request = sms_models.SendSmsRequest()
        request.PhoneNumberSet = ["+86" + message.phone]
        request.SmsSdkAppId = self.required_setting("TENCENT_SMS_SDK_APP_ID")
        request.SignName = self.required_setting("TENCENT_SMS_SIGN_NAME")
        request.TemplateId = self.template_id("TENCENT_SMS", message)
        request.TemplateParamSet = message.template.ordered_values(message.params)
        request.SessionContext = str(message.log_id)
        try:
            response = client.SendSms(request)
        except TencentCloudSDKException as exc:
            raise self.error(str(exc.code), str(exc.message)) from exc
        statuses = response.SendStatusSet or []
        if not statuses:
            raise SmsTransientError("no send status in Tencent SMS response", code="EmptyResponse")
        status = statuses[0]
        if status.Code != "Ok":
            raise self.error(status.Code or "", status.Message or "")
        return status.SerialNo or response.RequestId or ""
