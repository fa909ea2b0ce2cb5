"""Money is integer fen (分) inside the system; yuan exist only as text, made here."""

from decimal import Decimal, InvalidOperation


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
    """ "12.50" -> 1250; refuses anything that is not a whole number of fen."""
    try:
        value = Decimal(str(amount_yuan).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount_yuan!r}") from exc
    fen = value * 100
    if not value.is_finite() or fen != fen.to_integral_value() or fen < 0:
        raise ValueError(f"not a whole number of fen: {amount_yuan!r}")
    return int(fen)
