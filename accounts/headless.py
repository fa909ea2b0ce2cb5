"""The app API's login (allauth headless), taking the phone number the way the site's forms do."""

from allauth.account.adapter import get_adapter
from allauth.headless.account.inputs import LoginInput
from allauth.headless.account.views import LoginView
from allauth.headless.constants import Client


class PhoneLoginInput(LoginInput):
    """allauth's app login insists on E.164 ("+8613800138000"), while its code and sign-up
    endpoints, and every page, also take 13800138000: use the adapter's phone field here too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phone"] = get_adapter().phone_form_field(required=True)


class PhoneLoginView(LoginView):
    input_class = PhoneLoginInput


app_login = PhoneLoginView.as_api_view(client=Client.APP)
