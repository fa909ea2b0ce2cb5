"""Admin scoping: a hospital's staff see and change only their own hospital's rows."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from hospital.models import Hospital


def staff_hospital_id(user) -> int | None:
    """The hospital a staff user works for; None for superusers (they see everything)."""
    if user.is_superuser:
        return None
    staff = getattr(user, "hospital_staff", None)
    return staff.hospital_id if staff is not None else -1


def _filter_path(entry) -> str:
    """The lookup a `list_filter` entry filters on: "hospital", ("doctor__hospital", SomeFilter), …"""
    if isinstance(entry, (list, tuple)):
        entry = entry[0]
    return entry if isinstance(entry, str) else ""


def _is_hospital_filter(entry) -> bool:
    return _filter_path(entry).endswith("hospital")


class HospitalScopedAdmin(admin.ModelAdmin):
    """Set `hospital_path` to the lookup from this model to its Hospital (e.g. "doctor__hospital")."""

    hospital_path = "hospital"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        hospital_id = staff_hospital_id(request.user)
        if hospital_id is None:
            return queryset
        return queryset.filter(**{f"{self.hospital_path}_id": hospital_id})

    def get_list_filter(self, request):
        """A hospital filter would list every hospital's name; staff only ever see their own."""
        list_filter = super().get_list_filter(request)
        if staff_hospital_id(request.user) is None:
            return list_filter
        return [entry for entry in list_filter if not _is_hospital_filter(entry)]

    def lookup_allowed(self, lookup, value, request=None):
        """A hidden hospital filter stays a valid lookup (an old link keeps working, not a 400);
        it can only narrow the scoped queryset, never widen it."""
        for entry in self.list_filter:
            path = _filter_path(entry)
            if _is_hospital_filter(entry) and (lookup == path or lookup.startswith(f"{path}__")):
                return True
        return super().lookup_allowed(lookup, value, request)

    def nothing_in_scope(self, request, queryset) -> bool:
        """For actions: the selected ids went through the scoped queryset, so none left means none were ours."""
        if queryset.exists():
            return False
        self.message_user(request, _("所选记录不存在或不属于本院，未做任何更改。"), messages.WARNING)
        return True

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        hospital_id = staff_hospital_id(request.user)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if hospital_id is not None and field is not None:
            related = db_field.related_model
            if related is Hospital:
                field.queryset = field.queryset.filter(pk=hospital_id)
            elif any(f.name == "hospital" for f in related._meta.fields):
                field.queryset = field.queryset.filter(hospital_id=hospital_id)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        hospital_id = staff_hospital_id(request.user)
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        related_fields = db_field.related_model._meta.fields
        if hospital_id is not None and field is not None and any(f.name == "hospital" for f in related_fields):
            field.queryset = field.queryset.filter(hospital_id=hospital_id)
        return field
