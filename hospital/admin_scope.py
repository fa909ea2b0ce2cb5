"""Admin scoping: a hospital's staff see, choose and change only their own hospital's rows.

Every model that belongs to a hospital has a *hospital path*: the lookup from it to its
Hospital ("hospital", "doctor__hospital", "schedule__doctor__hospital", "pk" for Hospital
itself). It is computed from the model's foreign keys (or declared on the model as
`hospital_lookup`), so a model added later is scoped without anyone remembering to. With it:

- `HospitalScopedAdmin` scopes the list, every foreign-key and many-to-many choice and every
  related list filter, and accepts only the query-string lookups Django's own rules allow;
- `HospitalStaffBoundary` (an authentication backend) keeps hospital staff out of every model
  that belongs to no hospital (users, 就诊人, payments, SMS log, groups, periodic tasks,
  login attempts …), whatever permissions they were given.
"""

from collections import deque

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.filters import AllValuesFieldListFilter, FieldListFilter, RelatedFieldListFilter
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from hospital.models import Hospital

MAX_PATH_DEPTH = 5
_hospital_paths: dict[type, str | None] = {}


def _forward_relations(model, *, include_nullable: bool):
    for field in model._meta.get_fields():
        if not (field.concrete and (field.many_to_one or field.one_to_one)):
            continue
        if field.null and not include_nullable:
            continue
        yield field


def _search_hospital_path(model, *, include_nullable: bool) -> str | None:
    queue = deque([(model, [])])
    seen = {model}
    while queue:
        current, path = queue.popleft()
        if len(path) >= MAX_PATH_DEPTH:
            continue
        for field in _forward_relations(current, include_nullable=include_nullable):
            related = field.related_model
            if related is Hospital:
                return "__".join([*path, field.name])
            if related not in seen:
                seen.add(related)
                queue.append((related, [*path, field.name]))
    return None


def hospital_path(model) -> str | None:
    """The lookup from `model` to the Hospital its rows belong to, or None if they belong to none.

    A model may declare it as `hospital_lookup`; otherwise it is the shortest chain of required
    foreign keys (a nullable one only if there is no other way: rows without it then belong to
    no hospital, so staff never see them).
    """
    model = model._meta.concrete_model
    if model not in _hospital_paths:
        if model is Hospital:
            path = "pk"
        elif hasattr(model, "hospital_lookup"):
            path = model.hospital_lookup
        else:
            path = _search_hospital_path(model, include_nullable=False) or _search_hospital_path(
                model, include_nullable=True
            )
        _hospital_paths[model] = path
    return _hospital_paths[model]


def in_hospital(model, hospital_id) -> Q:
    """A filter for `model`'s rows of one hospital (no rows at all if the model belongs to none)."""
    path = hospital_path(model)
    return Q(**{path: hospital_id}) if path is not None else Q(pk__in=[])


def staff_hospital_id(user) -> int | None:
    """The hospital a staff user works for; None for superusers (they see everything), -1 for staff of none."""
    if user.is_superuser:
        return None
    staff = getattr(user, "hospital_staff", None)
    return staff.hospital_id if staff is not None else -1


def _filter_path(entry) -> str:
    """The lookup a `list_filter` entry filters on: "hospital", ("doctor__hospital", SomeFilter), …"""
    if isinstance(entry, (list, tuple)):
        entry = entry[0]
    return entry if isinstance(entry, str) else ""


def _final_field(model, path: str):
    try:
        return get_fields_from_path(model, path)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return None


def _is_hospital_filter(model, entry) -> bool:
    path = _filter_path(entry)
    field = _final_field(model, path) if path else None
    return field is not None and field.is_relation and field.related_model is Hospital


def _scope_filter_spec(spec, request, model_admin, hospital_id):
    """Narrow a built list filter's choices to the staff's hospital.

    Related filters list only the related model's rows of that hospital (or, for a model that
    belongs to no hospital, only rows this admin's own scoped rows point to); "all values"
    filters list only values found in the scoped rows.
    """
    if isinstance(spec, RelatedFieldListFilter):
        related = spec.field.related_model
        if hospital_path(related) is not None:
            limit = in_hospital(related, hospital_id)
        else:
            own_rows = model_admin.get_queryset(request).values(f"{spec.field_path}__pk")
            limit = Q(pk__in=own_rows)
        ordering = spec.field_admin_ordering(spec.field, request, model_admin)
        spec.lookup_choices = spec.field.get_choices(include_blank=False, limit_choices_to=limit, ordering=ordering)
    elif isinstance(spec, AllValuesFieldListFilter):
        spec.lookup_choices = (
            model_admin.get_queryset(request)
            .order_by(spec.field_path)
            .values_list(spec.field_path, flat=True)
            .distinct()
        )
    return spec


def _scoped_filter(filter_class, hospital_id):
    def build(field, request, params, model, model_admin, field_path):
        spec = filter_class(field, request, params, model, model_admin, field_path=field_path)
        return _scope_filter_spec(spec, request, model_admin, hospital_id)

    return build


class ScopedChoicesMixin:
    """Foreign-key and many-to-many choices limited to the staff's hospital (ModelAdmins and their inlines).

    A model that belongs to no hospital (a user, a 就诊人) offers staff no choices at all:
    such fields are read-only or filled in by the services.
    """

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return self.scope_choices(field, request)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        return self.scope_choices(field, request)

    def scope_choices(self, field, request):
        hospital_id = staff_hospital_id(request.user)
        if hospital_id is not None and field is not None and hasattr(field, "queryset"):
            field.queryset = field.queryset.filter(in_hospital(field.queryset.model, hospital_id))
        return field


class HospitalScopedAdmin(ScopedChoicesMixin, admin.ModelAdmin):
    """The admin of a model that belongs to a hospital.

    `hospital_path` may name the lookup to its Hospital; by default it is computed from the
    model (see `hospital_path()`).
    """

    hospital_path = None

    def get_hospital_path(self) -> str:
        path = self.hospital_path or hospital_path(self.model)
        if path is None:
            raise TypeError(f"{self.model.__name__} has no path to a hospital; it cannot be hospital-scoped.")
        return path

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        hospital_id = staff_hospital_id(request.user)
        if hospital_id is None:
            return queryset
        return queryset.filter(**{self.get_hospital_path(): hospital_id})

    def get_list_filter(self, request):
        """Staff get no hospital filter (they only ever see their own) and every related filter scoped."""
        list_filter = super().get_list_filter(request)
        hospital_id = staff_hospital_id(request.user)
        if hospital_id is None:
            return list_filter
        scoped = []
        for entry in list_filter:
            if _is_hospital_filter(self.model, entry):
                continue
            path = _filter_path(entry)
            if not path:
                scoped.append(entry)  # a SimpleListFilter: it answers from the scoped queryset it is given
                continue
            filter_class = entry[1] if isinstance(entry, (list, tuple)) else FieldListFilter.create
            scoped.append((path, _scoped_filter(filter_class, hospital_id)))
        return scoped

    def lookup_allowed(self, lookup, value, request=None):
        """Django's own rule (a local field, or exactly a `list_filter` path), nothing chained past it.

        A hospital filter hidden from staff stays a valid lookup, so an old link keeps working
        (not a 400); it can only narrow the scoped queryset, never widen it.
        """
        if super().lookup_allowed(lookup, value, request):
            return True
        return request is not None and super().lookup_allowed(lookup, value, None)

    def nothing_in_scope(self, request, queryset) -> bool:
        """For actions: the selected ids went through the scoped queryset, so none left means none were ours."""
        if queryset.exists():
            return False
        self.message_user(request, _("所选记录不存在或不属于本院，未做任何更改。"), messages.WARNING)
        return True


def _permission_models() -> dict[str, type]:
    """ "app_label.codename" → model, for every default and declared permission of every model."""
    mapping = {}
    for model in apps.get_models():
        opts = model._meta
        codenames = [f"{action}_{opts.model_name}" for action in opts.default_permissions]
        codenames += [codename for codename, _name in opts.permissions]
        for codename in codenames:
            mapping[f"{opts.app_label}.{codename}"] = model
    return mapping


class HospitalStaffBoundary:
    """Authentication backend that grants nothing and authenticates no one: it only refuses.

    A hospital's staff (a user with a HospitalStaff row who is not a superuser) may hold
    permissions only on models that belong to a hospital, whose admins are hospital-scoped.
    Anything else — users, 就诊人, payments, the SMS log, groups, periodic tasks, login
    attempts, any model added later without a hospital — is refused here, before the other
    backends are asked, whatever groups or permissions the account was given. List it before
    the backends that grant permissions.
    """

    _permission_models = None

    def authenticate(self, request, **credentials):
        return None

    @staticmethod
    def _bounded(user) -> bool:
        return user.is_active and not user.is_superuser and getattr(user, "hospital_staff", None) is not None

    def has_perm(self, user_obj, perm, obj=None):
        if self._bounded(user_obj):
            if HospitalStaffBoundary._permission_models is None:
                HospitalStaffBoundary._permission_models = _permission_models()
            model = HospitalStaffBoundary._permission_models.get(perm)
            if model is None or hospital_path(model) is None:
                raise PermissionDenied
        return False

    def has_module_perms(self, user_obj, app_label):
        if self._bounded(user_obj):
            try:
                models = apps.get_app_config(app_label).get_models()
            except LookupError:
                raise PermissionDenied from None
            if not any(hospital_path(model) is not None for model in models):
                raise PermissionDenied
        return False
