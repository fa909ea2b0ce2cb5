from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.phones import normalize_mobile
from accounts.pii import phone_hash
from config.readonly_admin import ReadOnlyAdminMixin
from notifications.models import NotificationLog


@admin.register(NotificationLog)
class NotificationLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the log is a record of what was sent; phones are shown masked only."""

    list_display = ["created_at", "masked_phone", "template", "status", "provider", "attempts", "sent_at"]
    list_filter = ["status", "template", "provider"]
    search_fields = ["template", "dedupe_key", "provider_message_id"]
    date_hierarchy = "created_at"
    fields = [
        "masked_phone", "template", "params", "text", "status", "provider", "provider_message_id", "error",
        "attempts", "dedupe_key", "created_at", "sent_at",
    ]  # fmt: skip
    readonly_fields = fields

    @admin.display(description=_("手机号"))
    def masked_phone(self, obj):
        return obj.masked_phone

    def get_search_results(self, request, queryset, search_term):
        """Exact phone search goes through the keyed hash; the encrypted column can't be searched."""
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            phone = normalize_mobile(search_term)
        except forms.ValidationError:
            return queryset, may_have_duplicates
        return queryset | self.model.objects.filter(phone_hash=phone_hash(phone)), may_have_duplicates
