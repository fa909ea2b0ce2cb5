from django.urls import path

from payments import views

app_name = "payments"
urlpatterns = [
    path("notify/alipay/", views.notify_alipay, name="notify_alipay"),
    path("notify/wechat/", views.notify_wechat, name="notify_wechat"),
    path("notify/wechat/refund/", views.notify_wechat_refund, name="notify_wechat_refund"),
    path("return/<str:token>/", views.return_page, name="return_page"),
    path("sandbox/<str:token>/", views.sandbox_page, name="sandbox_page"),
]
