"""Provider notification endpoints and the payer's pages. Thin: build the input, call a service, answer.

Acknowledgements follow each provider's rule: Alipay wants the plain text "success" (anything else,
here "failure", makes it retry); WeChat Pay v3 wants HTTP 200/204 with no body, and on failure a
4xx/5xx with {"code": "FAIL", "message": ...}. A notification we refuse (forged, stale, malformed,
not ours) is a 4xx; only our own faults are a 5xx.
"""

import logging

from django.core import signing
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import Http404, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from config.errors import DomainError
from payments import conf, selectors, services
from payments.errors import NotificationRejected, ProviderError, ProviderUnavailable
from payments.models import Payment, Provider
from payments.providers.base import IncomingNotification
from payments.providers.sandbox import (
    RETURN_PAGE_MAX_AGE,
    SANDBOX_PAGE_MAX_AGE,
    build_paid_notification,
    page_token,
    payment_id_from_token,
)

logger = logging.getLogger(__name__)


class MalformedNotification(NotificationRejected):
    """A body Django cannot even read (broken multipart, too large, too many fields)."""


def _incoming(request) -> IncomingNotification:
    try:
        return IncomingNotification(headers=request.headers, body=request.body, form=request.POST.dict())
    # RequestDataTooBig and TooManyFields* are SuspiciousOperation; a form body not in UTF-8 is BadRequest.
    except (MultiPartParserError, SuspiciousOperation, BadRequest) as exc:
        raise MalformedNotification(reason=type(exc).__name__) from exc


@csrf_exempt
@require_POST
def notify_alipay(request):
    try:
        services.receive_payment_notification(provider=Provider.ALIPAY, incoming=_incoming(request))
    except (NotificationRejected, ProviderUnavailable) as exc:
        logger.warning("Alipay notification rejected: %s", exc.detail)
        # 4xx for a notification we refuse; 503 while we cannot verify (keys missing): retry later.
        return HttpResponse("failure", content_type="text/plain", status=exc.status)
    except Exception:
        logger.exception("Alipay notification could not be applied")
        return HttpResponse("failure", content_type="text/plain", status=500)
    return HttpResponse("success", content_type="text/plain")


def _wechat_failure(message: str, status: int) -> JsonResponse:
    return JsonResponse({"code": "FAIL", "message": message[:64]}, status=status)


def _wechat_notification(request, receive):
    try:
        receive(provider=Provider.WECHAT, incoming=_incoming(request))
    except (NotificationRejected, ProviderUnavailable) as exc:
        logger.warning("WeChat Pay notification rejected: %s", exc.detail)
        return _wechat_failure(exc.detail, exc.status)
    except Exception:
        logger.exception("WeChat Pay notification could not be applied")
        return _wechat_failure("internal error", 500)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def notify_wechat(request):
    return _wechat_notification(request, services.receive_payment_notification)


@csrf_exempt
@require_POST
def notify_wechat_refund(request):
    return _wechat_notification(request, services.receive_refund_notification)


class PageLinkExpired(Exception):
    pass


def _payment_from_token(token: str, *, max_age: int) -> Payment:
    try:
        payment_id = payment_id_from_token(token, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise PageLinkExpired() from exc
    payment = selectors.payment_for_page(payment_id=payment_id) if payment_id else None
    if payment is None:
        raise Http404
    return payment


def _link_expired(request):
    return render(request, "payments/link_expired.html", status=410)


def _onward_url(request, payment: Payment) -> str:
    url = payment.return_url
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return url
    return ""


def return_page(request, token):
    """Where the payer's browser lands. Shows what an active query says; query parameters are ignored."""
    try:
        payment = _payment_from_token(token, max_age=RETURN_PAGE_MAX_AGE)
    except PageLinkExpired:
        return _link_expired(request)
    try:
        payment = services.query_and_sync(payment=payment)
    except (ProviderError, ProviderUnavailable) as exc:
        logger.info("Return page could not query %s: %s", payment.out_trade_no, exc.code)
    return render(
        request,
        "payments/return.html",
        {"payment": payment, "paid": payment.is_paid, "onward_url": _onward_url(request, payment)},
    )


@require_http_methods(["GET", "POST"])
def sandbox_page(request, token):
    """模拟支付: our own stand-in for a provider's cashier page, only when the sandbox is switched on."""
    if not conf.sandbox_enabled():
        raise Http404
    try:
        payment = _payment_from_token(token, max_age=SANDBOX_PAGE_MAX_AGE)
    except PageLinkExpired:
        return _link_expired(request)
    if payment.provider != Provider.SANDBOX:
        raise Http404
    payable = payment.status == Payment.Status.CREATED and payment.expires_at > timezone.now()
    if request.method == "POST" and payable:
        try:
            services.receive_payment_notification(provider=Provider.SANDBOX, incoming=build_paid_notification(payment))
        except DomainError as exc:
            return render(
                request,
                "payments/sandbox.html",
                {"payment": payment, "payable": False, "error": exc.detail},
                status=409,
            )
        return redirect("payments:return_page", token=page_token(payment.pk))
    return render(request, "payments/sandbox.html", {"payment": payment, "payable": payable})
