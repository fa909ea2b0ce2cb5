from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from accounts import headless as accounts_headless
from hospital import views as hospital_views

admin.site.site_header = _("网上挂号系统 · 医院管理")
admin.site.site_title = _("网上挂号系统")
admin.site.index_title = _("管理首页")

urlpatterns = [
    path("", hospital_views.home, name="home"),
    path("hospitals/<slug:code>/", hospital_views.hospital_detail, name="hospital_detail"),
    path("admin/", admin.site.urls),
    path("payments/", include("payments.urls")),
    path("accounts/", include("allauth.urls")),
    # Before allauth's own routes: the same endpoint, taking 13800138000 as well as +8613800138000.
    path("_allauth/app/v1/auth/login", accounts_headless.app_login),
    path("_allauth/", include("allauth.headless.urls")),
]
