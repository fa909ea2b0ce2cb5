"""The app API's login (allauth headless), taking the phone number the way the site's forms do."""

from importlib import import_module

from allauth.account.adapter import get_adapter
from allauth.headless.account.inputs import LoginInput
from allauth.headless.account.views import LoginView
from allauth.headless.constants import Client
from allauth.headless.tokens.strategies.sessions import SessionTokenStrategy
from django.conf import settings
from django.contrib.auth import SESSION_KEY


class PhoneLoginInput(LoginInput):
    """allauth's app login insists on E.164 ("+8613800138000"), while its code and sign-up
    endpoints, and every page, also take 13800138000: use the adapter's phone field here too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phone"] = get_adapter().phone_form_field(required=True)


class PhoneLoginView(LoginView):
    input_class = PhoneLoginInput


app_login = PhoneLoginView.as_api_view(client=Client.APP)


class OneReadSessionTokenStrategy(SessionTokenStrategy):
    """The app's X-Session-Token with one session read per request, not two.

    allauth asks the session store whether the token exists, then loads it: two cache round trips
    on every API call. Loading alone tells both: a missing or expired session clears its key.
    """

    def lookup_session(self, session_token: str):
        session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_token)
        session.get(SESSION_KEY)  # the lazy load
        return session if session.session_key else None
