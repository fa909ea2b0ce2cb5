"""Admin pages that only show records (logs, statistics, the audit trail): nobody, superusers
included, adds, changes or deletes them from the admin."""


class ReadOnlyAdminMixin:
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
