from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts import headless as accounts_headless
from accounts import views as accounts_views

admin.site.site_header = _("网上挂号系统 · 医院管理")
admin.site.site_title = _("网上挂号系统")
admin.site.index_title = _("管理首页")

urlpatterns = [
    # The APIs first: their prefixes are told apart at once, while the pages' includes below have
    # none and are tried pattern by pattern (a tenth of a cached API answer's time, measured).
    path("api/v1/", include("config.api_v1")),
    path("api/partner/v1/", include("partners.api_urls")),
    path("fhir/r4/", include("interop.urls")),
    path("", include("hospital.urls")),
    path("", include("scheduling.urls")),
    path("", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("booking.urls")),
    path("desk/", include("desk.urls")),
    path("payments/", include("payments.urls")),
    path("r/", include("booking.reminder_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    # Phone-first account pages, ahead of allauth's: its e-mail pages and e-mailed reset links
    # lead back to the account home, and a password is reset by SMS code.
    path("accounts/", accounts_views.account_home, name="account_home"),
    path("accounts/password/reset/", accounts_views.password_reset, name="account_reset_password"),
    path(
        "accounts/password/reset/phone/",
        accounts_views.password_reset_confirm,
        name="account_reset_password_by_phone_confirm",
    ),
    re_path(r"^accounts/(?:email|confirm-email|password/reset/(?:key|done))/", accounts_views.phone_first),
    path("accounts/", include("allauth.urls")),
    # Before allauth's own routes: the same endpoint, taking 13800138000 as well as +8613800138000.
    path("_allauth/app/v1/auth/login", accounts_headless.app_login),
    path("_allauth/", include("allauth.headless.urls")),
]
