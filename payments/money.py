"""Money is integer fen (分) inside the system; providers that speak yuan convert here, at their edge."""

from decimal import Decimal, InvalidOperation


def fen_to_yuan(amount_fen: int) -> str:
    """1250 -> "12.50" (the exact text Alipay expects; never a float)."""
    if amount_fen < 0:
        raise ValueError("amount must not be negative")
    return f"{amount_fen // 100}.{amount_fen % 100:02d}"


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
