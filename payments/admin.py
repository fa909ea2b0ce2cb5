from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from payments.models import Payment, Refund

MONEY_AND_PROVIDER_FIELDS = (
    "order_no",
    "charge",
    "out_trade_no",
    "provider",
    "method",
    "amount_fen",
    "status",
    "provider_trade_no",
    "paid_at",
    "closed_at",
    "notification",
    "created_at",
    "updated_at",
)


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ("refund_no", "amount_fen", "status", "reason", "provider_refund_id", "last_error", "succeeded_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Money moves only through the services (notifications, queries, refunds): everything is read-only here."""

    list_display = (
        "out_trade_no",
        "order_no",
        "charge",
        "provider",
        "method",
        "amount_display",
        "status",
        "paid_at",
        "created_at",
    )
    list_filter = ("status", "provider", "method", "created_at")
    search_fields = ("order_no", "out_trade_no", "provider_trade_no")
    date_hierarchy = "created_at"
    readonly_fields = (*MONEY_AND_PROVIDER_FIELDS, "subject", "expires_at", "client_ip", "return_url")
    inlines = [RefundInline]

    @admin.display(description=_("金额（元）"), ordering="amount_fen")
    def amount_display(self, obj):
        return obj.amount_yuan

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ("refund_no", "order_no", "amount_display", "status", "reason", "created_at", "succeeded_at")
    list_filter = ("status", "payment__provider", "created_at")
    search_fields = ("refund_no", "provider_refund_id", "payment__order_no", "payment__out_trade_no")
    list_select_related = ("payment",)
    readonly_fields = (
        "refund_no",
        "payment",
        "amount_fen",
        "status",
        "reason",
        "provider_refund_id",
        "last_error",
        "raw",
        "succeeded_at",
        "created_at",
        "updated_at",
    )

    @admin.display(description=_("订单号"), ordering="payment__order_no")
    def order_no(self, obj):
        return obj.payment.order_no

    @admin.display(description=_("金额（元）"), ordering="amount_fen")
    def amount_display(self, obj):
        return obj.amount_yuan

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
