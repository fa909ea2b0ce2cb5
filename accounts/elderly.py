"""长辈模式 (适老化): large text, high contrast, one column, fewer choices per screen.

It is remembered per browser (a cookie, so it holds before login) and per account (User.elderly_mode,
so it follows the patient). It is on when either remembers it; switching it off clears both, so a
patient can always leave it.
"""

from django.http import HttpRequest, HttpResponse

COOKIE = "elderly_mode"
COOKIE_MAX_AGE = 365 * 24 * 3600


def is_on(request: HttpRequest) -> bool:
    if request.COOKIES.get(COOKIE) == "1":
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.elderly_mode)


def remember_in_browser(response: HttpResponse, *, on: bool) -> None:
    if on:
        response.set_cookie(COOKIE, "1", max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True)
    else:
        response.delete_cookie(COOKIE, samesite="Lax")


def context(request: HttpRequest) -> dict:
    """Template context processor: `elderly_mode` for base.html's <body> class and switch."""
    return {"elderly_mode": is_on(request)}
