"""The app API's login (allauth headless), taking the phone number the way the site's forms do, and its
session token's account, proved without a database read per request."""

import copy
import functools
import hashlib
from importlib import import_module

from allauth.account.adapter import get_adapter
from allauth.headless import app_settings
from allauth.headless.account.inputs import LoginInput
from allauth.headless.account.views import LoginView
from allauth.headless.constants import Client
from allauth.headless.tokens.strategies.sessions import SessionTokenStrategy
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user, get_user_model
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, empty


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


# The app token's account without a database read per request.
#
# A token proves an account when its session names a user, a backend, and the HMAC of that user's
# password that was current at login (Django's session verification); the user must also still be
# active. Checking that reads the user's row on every API call. Once the database has said yes for
# a user, the gate remembers the hash it accepted (no personal data: a session already holds the
# same value). A request whose session carries that hash is then signed in with `SignedInUser`,
# which reads the row only when something beyond the account's id is asked of it.
#
# Every change or deletion of a user (not a login's last_login stamp, not its creation) closes its
# gate for as long as a gate stays open: a marker, written over whatever the gate held, at the save.
# A request that read the old row cannot reopen the gate with it: if it writes before the marker,
# the marker overwrites it; after, it finds the marker (`add` writes only to an empty gate), unless
# the change's transaction was still open when the marker lapsed, ten minutes after the save. The
# first request after that reads the row and opens the gate again. (Closing again on commit would
# be exact, but a sign-up would then queue one more commit callback than a refused sign-up of a
# taken number: accounts.tests.test_login_code_enumeration.)
#
# Only a save() or delete() sends the signals that close a gate. A change made around them
# (QuerySet.update of `password` or `is_active`, raw SQL, a data migration) reaches tokens within
# GATE_SECONDS, or at once after `manage.py close_account_gates`. The gate's keys also name the
# site's secret keys: a new SECRET_KEY, or one dropped from SECRET_KEY_FALLBACKS, sends every token
# back to the database, which checks its hash against the keys now in force.
GATE_SECONDS = 600
GATE_CLOSED_SECONDS = GATE_SECONDS
GATE_CLOSED = "closed"


@functools.lru_cache(maxsize=4)
def _keys_digest(secret_keys: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join(secret_keys).encode()).hexdigest()[:12]


def gate_keys(user_id) -> dict[str, str]:
    """The account's gate under each authentication backend (the session names the one it used)."""
    secrets = _keys_digest((settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS))
    return {path: f"accounts:signed-in:{secrets}:{path}:{user_id}" for path in settings.AUTHENTICATION_BACKENDS}


class SignedInUser(SimpleLazyObject):
    """A signed-in account known by its id; its row is read on the first question beyond that.

    It passes for the user model (`isinstance`, ORM filters and foreign keys take its id), so code
    that only needs "who" (a throttle, a refusal on a sold-out slot, `filter(user=...)`) reads
    nothing.
    """

    def __init__(self, pk):
        user_model = get_user_model()
        super().__init__(lambda: user_model._default_manager.get(pk=pk))
        self.__dict__.update(pk=pk, id=pk, is_authenticated=True, is_anonymous=False)
        self.__dict__.update(_model=user_model, _meta=user_model._meta)

    @property
    def __class__(self):
        return self.__dict__["_model"]

    def __bool__(self):  # `request.user and request.user.is_authenticated` (DRF's permissions)
        return True

    @property
    def is_active(self):  # the gate opens only for active accounts; once read, the row says
        return True if self._wrapped is empty else self._wrapped.is_active

    def _is_pk_set(self):  # the ORM, taking the account's id for `filter(user=...)`
        return True

    def __getattr__(self, name):
        # Asking for what no user read from the database has (the ORM probes `resolve_expression`)
        # needs no read to be told no: a fresh instance holds its class's attributes and `_state`.
        if self._wrapped is empty and name != "_state" and not hasattr(self._model, name):
            raise AttributeError(name)
        return super().__getattr__(name)

    def __copy__(self):
        return SignedInUser(self.pk) if self._wrapped is empty else copy.copy(self._wrapped)

    def __deepcopy__(self, memo):
        return SignedInUser(self.pk) if self._wrapped is empty else copy.deepcopy(self._wrapped, memo)


def authenticate_app_token(token: str):
    """(user, session) for an app session token, or None; the same answer as allauth's, with the
    user's row read only when the gate does not know the session's hash."""
    session = app_settings.TOKEN_STRATEGY.lookup_session(token)
    if not session:
        return None
    user_id, backend_path, session_hash = (session.get(k) for k in (SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY))
    if user_id is None or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    pk = get_user_model()._meta.pk.to_python(user_id)
    gate_key = gate_keys(pk)[backend_path]
    if session_hash and cache.get(gate_key) == session_hash:
        return SignedInUser(pk), session
    request = HttpRequest()
    request.session = session
    user = get_user(request)  # the backend's get_user (active users only) and the hash check
    if not user.is_authenticated:
        return None
    if session.get(HASH_SESSION_KEY) == session_hash:  # not a fallback secret's, which get_user rotated
        cache.add(gate_key, user.get_session_auth_hash(), GATE_SECONDS)
    return user, session


def close_gate(user_id) -> None:
    """A user changed or went: requests read the row again for GATE_CLOSED_SECONDS (see above)."""
    cache.set_many(dict.fromkeys(gate_keys(user_id).values(), GATE_CLOSED), GATE_CLOSED_SECONDS)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.close_gate.save")
@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.close_gate.delete")
def _user_changed(sender, instance, created=False, update_fields=None, **kwargs):
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # a new account has no token yet; a login's stamp changes nothing a token is checked against
    close_gate(instance.pk)
