"""Stand-ins for the providers' servers, at the HTTP layer, so the real SDK code runs in the tests.

Alipay's SDK talks through urllib (`alipay.urlopen`), which `responses` cannot see, so the fake
Alipay gateway replaces that one function and answers with bodies signed by the test "Alipay"
key. WeChat Pay's SDK uses requests, so the fake WeChat server is a set of `responses`
callbacks signing every answer with the test platform key. Both keep a little state (trades,
refunds) so a test can say "the buyer paid" and watch our code find out.
"""

import base64
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from urllib.parse import parse_qsl, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from config.money import fen_to_yuan

ALIPAY_APP_ID = "2021000000000001"
ALIPAY_SELLER_ID = "2088102177296610"
WECHAT_MCHID = "1900000109"
WECHAT_APPID = "wxd678efh567hg6787"
WECHAT_PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092025TEST"
WECHAT_CERT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
WECHAT_GATEWAY = "https://api.mch.weixin.qq.com"


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def rsa2_sign(key, text: str) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa2_verify(public_key, text: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class TestKeys:
    alipay_app: object  # our application key (we sign with it)
    alipay_platform: object  # "Alipay's" key (it signs notifications and answers)
    wechat_merchant: object
    wechat_platform: object
    apiv3_key: str


def make_keys() -> TestKeys:
    return TestKeys(
        alipay_app=new_rsa_key(),
        alipay_platform=new_rsa_key(),
        wechat_merchant=new_rsa_key(),
        wechat_platform=new_rsa_key(),
        apiv3_key=secrets.token_hex(16),
    )


# Alipay ----------------------------------------------------------------------------------------


def alipay_signing_text(fields: dict) -> str:
    """Alipay's rule for notifications: without sign and sign_type, sorted by key, raw k=v joined by &."""
    return "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k not in ("sign", "sign_type"))


class FakeAlipayGateway:
    """Replaces `alipay.urlopen`: checks our request signature, answers like the gateway, signs the answer."""

    def __init__(self, keys: TestKeys):
        self.keys = keys
        self.trades: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.calls: list[tuple[str, dict]] = []
        self.fail_with: Exception | None = None

    # State the tests set up
    def buyer_pays(self, payment, *, amount_fen=None) -> dict:
        trade = self.trades.setdefault(payment.out_trade_no, {"total_amount": fen_to_yuan(payment.amount_fen)})
        trade.update(
            trade_status="TRADE_SUCCESS",
            trade_no=trade.get("trade_no") or f"2026{secrets.randbelow(10**20):020d}",
            send_pay_date="2026-01-05 10:01:02",
        )
        if amount_fen is not None:
            trade["total_amount"] = fen_to_yuan(amount_fen)
        return trade

    def buyer_opens(self, payment) -> dict:
        return self.trades.setdefault(
            payment.out_trade_no, {"total_amount": fen_to_yuan(payment.amount_fen), "trade_status": "WAIT_BUYER_PAY"}
        )

    def notification(self, payment, *, sign_with=None, **overrides) -> dict:
        """A trade_status_sync notification exactly as Alipay posts it (form fields)."""
        trade = self.trades.get(payment.out_trade_no)
        if trade is None or ("trade_status" not in overrides and trade["trade_status"] == "WAIT_BUYER_PAY"):
            trade = self.buyer_pays(payment)
        fields = {
            "gmt_create": "2026-01-05 10:00:00",
            "charset": "utf-8",
            "seller_email": "",
            "subject": payment.subject,
            "buyer_id": "2088102177846880",
            "invoice_amount": trade["total_amount"],
            "notify_id": uuid.uuid4().hex,
            "fund_bill_list": json.dumps([{"amount": trade["total_amount"], "fundChannel": "ALIPAYACCOUNT"}]),
            "notify_type": "trade_status_sync",
            "trade_status": trade.get("trade_status", "TRADE_SUCCESS"),
            "receipt_amount": trade["total_amount"],
            "app_id": ALIPAY_APP_ID,
            "buyer_pay_amount": trade["total_amount"],
            "sign_type": "RSA2",
            "seller_id": ALIPAY_SELLER_ID,
            "gmt_payment": "2026-01-05 10:01:02",
            "notify_time": "2026-01-05 10:01:03",
            "version": "1.0",
            "out_trade_no": payment.out_trade_no,
            "total_amount": trade["total_amount"],
            "trade_no": trade.get("trade_no", ""),
            "auth_app_id": ALIPAY_APP_ID,
            "buyer_logon_id": "abc***@sandbox.com",
            "point_amount": "0.00",
        }
        fields.update(overrides)
        fields["sign"] = rsa2_sign(sign_with or self.keys.alipay_platform, alipay_signing_text(fields))
        return fields

    # The gateway
    def __call__(self, url, timeout=None):
        assert timeout, "Alipay calls must carry a timeout"
        if self.fail_with is not None:
            raise self.fail_with
        params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        signature = params.pop("sign")
        text = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        assert rsa2_verify(self.keys.alipay_app.public_key(), text, signature), "request not signed with our app key"
        assert params["app_id"] == ALIPAY_APP_ID
        method = params["method"]
        biz = json.loads(params["biz_content"])
        self.calls.append((method, biz))
        handler = {
            "alipay.trade.query": self._query,
            "alipay.trade.close": self._close,
            "alipay.trade.refund": self._refund,
            "alipay.trade.fastpay.refund.query": self._refund_query,
        }[method]
        inner = json.dumps(handler(biz), ensure_ascii=False, separators=(",", ":"))
        response_key = method.replace(".", "_") + "_response"
        signature = rsa2_sign(self.keys.alipay_platform, inner)
        return BytesIO(f'{{"{response_key}":{inner},"sign":"{signature}"}}'.encode())

    def methods_called(self) -> list[str]:
        return [method for method, _ in self.calls]

    @staticmethod
    def _not_found():
        return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}

    def _query(self, biz):
        trade = self.trades.get(biz["out_trade_no"])
        if trade is None:
            return self._not_found()
        answer = {"code": "10000", "msg": "Success", "out_trade_no": biz["out_trade_no"], **trade}
        answer.setdefault("trade_no", "")
        return answer

    def _close(self, biz):
        trade = self.trades.get(biz["out_trade_no"])
        if trade is None:
            return self._not_found()
        if trade["trade_status"] in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            return {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.TRADE_STATUS_ERROR",
                "sub_msg": "交易状态不合法",
            }
        trade["trade_status"] = "TRADE_CLOSED"
        return {"code": "10000", "msg": "Success", "out_trade_no": biz["out_trade_no"], "trade_no": ""}

    def _refund(self, biz):
        trade = self.trades.get(biz["out_trade_no"])
        if trade is None:
            return self._not_found()
        request_no = biz["out_request_no"]
        if request_no in self.refunds:
            return {**self.refunds[request_no]["answer"], "fund_change": "N"}
        # Alipay refunds a trade in parts, each under its own out_request_no, up to the total.
        already = sum(Decimal(r["amount"]) for r in self.refunds.values() if r["out_trade_no"] == biz["out_trade_no"])
        if already + Decimal(biz["refund_amount"]) > Decimal(trade["total_amount"]):
            return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"}
        answer = {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": biz["out_trade_no"],
            "trade_no": trade["trade_no"],
            "refund_fee": biz["refund_amount"],
            "fund_change": "Y",
            "gmt_refund_pay": "2026-01-05 11:00:00",
        }
        self.refunds[request_no] = {
            "answer": answer,
            "amount": biz["refund_amount"],
            "out_trade_no": biz["out_trade_no"],
        }
        return answer

    def _refund_query(self, biz):
        refund = self.refunds.get(biz["out_request_no"])
        if refund is None:
            return {"code": "10000", "msg": "Success"}
        return {
            "code": "10000",
            "msg": "Success",
            "out_request_no": biz["out_request_no"],
            "out_trade_no": refund["out_trade_no"],
            "refund_amount": refund["amount"],
            "refund_status": "REFUND_SUCCESS",
        }


# WeChat Pay --------------------------------------------------------------------------------------


def wechat_signed_headers(
    keys: TestKeys, body: str, *, serial=WECHAT_PUBLIC_KEY_ID, sign_with=None, timestamp: str | None = None
) -> dict:
    """Headers signed like WeChat Pay signs them; `timestamp` (text, seconds) defaults to now."""
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    nonce = secrets.token_hex(16)
    signature = rsa2_sign(sign_with or keys.wechat_platform, f"{timestamp}\n{nonce}\n{body}\n")
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def wechat_notification(
    keys: TestKeys,
    resource,
    *,
    event_type: str,
    original_type: str,
    apiv3_key=None,
    sign_with=None,
    timestamp: str | None = None,
) -> tuple[str, dict]:
    """A v3 notification as WeChat Pay posts it: AES-256-GCM resource, RSA-signed headers.

    `resource` is encrypted as JSON, or as it is when given as bytes (to test plaintexts that are no object).
    """
    nonce = secrets.token_hex(6)  # 12 characters
    associated_data = original_type
    plaintext = resource if isinstance(resource, bytes) else json.dumps(resource, ensure_ascii=False).encode()
    ciphertext = AESGCM((apiv3_key or keys.apiv3_key).encode()).encrypt(
        nonce.encode(), plaintext, associated_data.encode()
    )
    body = json.dumps(
        {
            "id": str(uuid.uuid4()),
            "create_time": "2026-01-05T10:01:03+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功" if event_type.startswith("TRANSACTION") else "退款成功",
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": associated_data,
                "nonce": nonce,
            },
        },
        ensure_ascii=False,
    )
    return body, wechat_signed_headers(keys, body, sign_with=sign_with, timestamp=timestamp)


def wechat_encrypted_resource(keys: TestKeys, plaintext: bytes, *, associated_data: str = "transaction") -> dict:
    """The `resource` object of a notification body around any plaintext."""
    nonce = secrets.token_hex(6)
    ciphertext = AESGCM(keys.apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "original_type": associated_data,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


class FakeWechatPay:
    """`responses` callbacks for the v3 endpoints we use; every 2xx answer is signed like WeChat signs it."""

    def __init__(self, keys: TestKeys, mock):
        self.keys = keys
        self.trades: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.refund_result = "PROCESSING"
        self.before_close = None  # a test's hook: something happens just before the close arrives
        base = re.escape(WECHAT_GATEWAY)
        mock.add_callback("POST", re.compile(base + r"/v3/pay/transactions/(native|h5)$"), callback=self._pay)
        mock.add_callback("POST", re.compile(base + r"/v3/pay/transactions/out-trade-no/[^/]+/close$"), self._close)
        mock.add_callback(
            "GET", re.compile(base + r"/v3/pay/transactions/out-trade-no/[^/?]+\?mchid=\d+$"), self._query
        )
        mock.add_callback("POST", re.compile(base + r"/v3/refund/domestic/refunds$"), callback=self._refund)
        mock.add_callback("GET", re.compile(base + r"/v3/refund/domestic/refunds/[^/?]+$"), callback=self._query_refund)

    # State the tests set up
    def buyer_pays(self, payment, *, amount_fen=None) -> dict:
        trade = self.trades.setdefault(payment.out_trade_no, {"trade_state": "NOTPAY", "total": payment.amount_fen})
        trade.update(
            trade_state="SUCCESS",
            transaction_id=trade.get("transaction_id") or f"4200{secrets.randbelow(10**24):024d}",
            success_time="2026-01-05T10:01:02+08:00",
        )
        if amount_fen is not None:
            trade["total"] = amount_fen
        return trade

    def resource(self, payment, **overrides) -> dict:
        trade = self.trades.get(payment.out_trade_no)
        if trade is None or trade["trade_state"] == "NOTPAY":
            trade = self.buyer_pays(payment)
        resource = {
            "appid": WECHAT_APPID,
            "mchid": WECHAT_MCHID,
            "out_trade_no": payment.out_trade_no,
            "transaction_id": trade["transaction_id"],
            "trade_type": "NATIVE",
            "trade_state": trade["trade_state"],
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": trade["success_time"],
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {
                "total": trade["total"],
                "payer_total": trade["total"],
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        }
        resource.update(overrides)
        return resource

    def notification(self, payment, **kwargs) -> tuple[str, dict]:
        resource_overrides = kwargs.pop("resource", {})
        return wechat_notification(
            self.keys,
            self.resource(payment, **resource_overrides),
            event_type="TRANSACTION.SUCCESS",
            original_type="transaction",
            **kwargs,
        )

    def refund_resource(self, refund, *, status="SUCCESS", **overrides) -> dict:
        resource = {
            "mchid": WECHAT_MCHID,
            "out_trade_no": refund.payment.out_trade_no,
            "transaction_id": refund.payment.provider_trade_no,
            "out_refund_no": refund.refund_no,
            "refund_id": self.refunds.get(refund.refund_no, {}).get("refund_id", "50300000000000000000000000001"),
            "refund_status": status,
            "success_time": "2026-01-05T11:00:00+08:00",
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": refund.payment.amount_fen,
                "refund": refund.amount_fen,
                "payer_total": refund.payment.amount_fen,
                "payer_refund": refund.amount_fen,
            },
        }
        resource.update(overrides)
        return resource

    def refund_notification(self, refund, *, status="SUCCESS", timestamp=None, **overrides) -> tuple[str, dict]:
        resource = self.refund_resource(refund, status=status, **overrides)
        if refund.refund_no in self.refunds and status == "SUCCESS":
            self.refunds[refund.refund_no]["status"] = "SUCCESS"
        return wechat_notification(
            self.keys, resource, event_type=f"REFUND.{status}", original_type="refund", timestamp=timestamp
        )

    # The server
    def _answer(self, status: int, payload: dict | None):
        body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        if 200 <= status < 300:
            headers.update(wechat_signed_headers(self.keys, body))
        return status, headers, body

    def _record(self, request) -> dict:
        assert request.headers["Authorization"].startswith("WECHATPAY2-SHA256-RSA2048 ")
        assert f'mchid="{WECHAT_MCHID}"' in request.headers["Authorization"]
        body = json.loads(request.body) if request.body else {}
        self.requests.append((request.method, urlsplit(request.url).path, body))
        return body

    def paths_called(self) -> list[str]:
        return [f"{method} {path}" for method, path, _ in self.requests]

    def _pay(self, request):
        body = self._record(request)
        assert body["mchid"] == WECHAT_MCHID and body["appid"] == WECHAT_APPID
        assert isinstance(body["amount"]["total"], int)
        self.trades.setdefault(body["out_trade_no"], {"trade_state": "NOTPAY", "total": body["amount"]["total"]})
        if request.url.endswith("/h5"):
            assert body["scene_info"]["payer_client_ip"]
            return self._answer(200, {"h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1"})
        return self._answer(200, {"code_url": f"weixin://wxpay/bizpayurl?pr={secrets.token_hex(4)}"})

    def _query(self, request):
        self._record(request)
        out_trade_no = urlsplit(request.url).path.rsplit("/", 1)[-1]
        trade = self.trades.get(out_trade_no)
        if trade is None:
            return self._answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        answer = {
            "appid": WECHAT_APPID,
            "mchid": WECHAT_MCHID,
            "out_trade_no": out_trade_no,
            "trade_state": trade["trade_state"],
            "trade_state_desc": trade["trade_state"],
            "amount": {"total": trade["total"], "payer_total": trade["total"], "currency": "CNY"},
        }
        for key in ("transaction_id", "success_time"):
            if key in trade:
                answer[key] = trade[key]
        return self._answer(200, answer)

    def _close(self, request):
        self._record(request)
        if self.before_close:
            self.before_close()
        out_trade_no = urlsplit(request.url).path.split("/")[-2]
        trade = self.trades.setdefault(out_trade_no, {"trade_state": "NOTPAY", "total": 0})
        if trade["trade_state"] == "SUCCESS":
            return self._answer(400, {"code": "ORDERPAID", "message": "订单已支付"})
        trade["trade_state"] = "CLOSED"
        return self._answer(204, None)

    def _refund(self, request):
        body = self._record(request)
        refund_no = body["out_refund_no"]
        if refund_no not in self.refunds:
            trade = self.trades[body["out_trade_no"]]
            assert trade["trade_state"] in ("SUCCESS", "REFUND")
            assert body["amount"]["total"] == trade["total"] and body["amount"]["refund"] <= trade["total"]
            # WeChat refunds a trade in parts, each under its own out_refund_no (a test's ABNORMAL one
            # exists only in its notification, so the fake does not add them up).
            self.refunds[refund_no] = {
                "refund_id": f"5030{secrets.randbelow(10**24):024d}",
                "out_trade_no": body["out_trade_no"],
                "amount": body["amount"],
                "status": self.refund_result,
            }
            trade["trade_state"] = "REFUND"
        return self._answer(200, self._refund_answer(refund_no))

    def _refund_answer(self, refund_no):
        refund = self.refunds[refund_no]
        return {
            "refund_id": refund["refund_id"],
            "out_refund_no": refund_no,
            "out_trade_no": refund["out_trade_no"],
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": "2026-01-05T11:00:00+08:00",
            "status": refund["status"],
            "amount": {
                "total": refund["amount"]["total"],
                "refund": refund["amount"]["refund"],
                "payer_total": refund["amount"]["total"],
                "payer_refund": refund["amount"]["refund"],
                "currency": "CNY",
            },
        }

    def _query_refund(self, request):
        self._record(request)
        refund_no = urlsplit(request.url).path.rsplit("/", 1)[-1]
        if refund_no not in self.refunds:
            return self._answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})
        return self._answer(200, self._refund_answer(refund_no))
