"""Admin scoping: a hospital's staff see and change only their own hospital's rows."""

from django.contrib import admin

from hospital.models import Hospital


def staff_hospital_id(user) -> int | None:
    """The hospital a staff user works for; None for superusers (they see everything)."""
    if user.is_superuser:
        return None
    staff = getattr(user, "hospital_staff", None)
    return staff.hospital_id if staff is not None else -1


class HospitalScopedAdmin(admin.ModelAdmin):
    """Set `hospital_path` to the lookup from this model to its Hospital (e.g. "doctor__hospital")."""

    hospital_path = "hospital"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        hospital_id = staff_hospital_id(request.user)
        if hospital_id is None:
            return queryset
        return queryset.filter(**{f"{self.hospital_path}_id": hospital_id})

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
