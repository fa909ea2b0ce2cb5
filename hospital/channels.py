"""号源渠道: how a slot's places are split between the ways a patient can book."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    ONLINE = "online", _("线上（患者网页/App）")
    PARTNER = "partner", _("合作平台")
    WINDOW = "window", _("挂号窗口")
    CLINIC = "clinic", _("诊间预约/转诊")


# Order in which rounding leftovers are handed out when remainders tie.
CHANNEL_ORDER = (Channel.ONLINE, Channel.PARTNER, Channel.WINDOW, Channel.CLINIC)
# Reserves that go back to the online pool when unused; online itself never moves.
RESERVE_CHANNELS = (Channel.PARTNER, Channel.WINDOW, Channel.CLINIC)


def split_capacity(capacity: int, shares: dict[str, int]) -> dict[str, int]:
    """Split `capacity` places by percentage shares with the largest-remainder method.

    Each channel first gets the floor of its exact share; the places left over go one by
    one to the channels with the largest fractional remainders, ties broken in
    CHANNEL_ORDER (online first). The parts always add up to `capacity`, and no channel
    ever gets more than one place above its exact share.
    """
    total = sum(shares.values())
    if capacity < 0 or total <= 0:
        raise ValueError("capacity must be >= 0 and the shares must add up to more than 0")
    parts = {}
    remainders = []
    for position, channel in enumerate(CHANNEL_ORDER):
        exact_numerator = capacity * shares.get(channel, 0)
        parts[channel] = exact_numerator // total
        remainders.append((-(exact_numerator % total), position, channel))
    leftover = capacity - sum(parts.values())
    for _remainder, _position, channel in sorted(remainders)[:leftover]:
        parts[channel] += 1
    return parts
