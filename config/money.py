"""Money is integer fen (分) everywhere; these are the only conversions to and from yuan text.

It sits in config, under every app, because pages, SMS texts and payment providers all show money
(hospital, notifications and payments are not allowed to import one another)."""

import re

# At most 15 digits of yuan: far beyond any fee, and never a number too large to handle.
YUAN_TEXT = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,2}))?")


def fen_to_yuan(amount_fen: int) -> str:
    """1250 -> "12.50", 0 -> "0.00", -5 -> "-0.05": exact integer arithmetic, never a float.

    The one place fen become yuan text: pages, SMS and the providers that speak yuan (Alipay
    expects exactly this form). Imports nothing of the project, so every app may use it.
    """
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise TypeError(f"an amount in fen is an int, not {type(amount_fen).__name__}")
    sign = "-" if amount_fen < 0 else ""
    whole, fen = divmod(abs(amount_fen), 100)
    return f"{sign}{whole}.{fen:02d}"


def yuan_to_fen(amount_yuan: str) -> int:
    """ "12.50" -> 1250. Only plain text a provider sends: digits, and at most two after the point.

    No sign, exponent, NaN or float: anything else is not a whole number of fen (ValueError).
    """
    match = YUAN_TEXT.fullmatch(amount_yuan) if isinstance(amount_yuan, str) else None
    if match is None:
        raise ValueError(f"not an amount in yuan: {amount_yuan!r}")
    whole, fen = match.groups()
    return int(whole) * 100 + int((fen or "").ljust(2, "0"))
