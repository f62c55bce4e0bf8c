"""Borrower contact preferences as the gateway's consent state.

Owns: the mapping from the portal's `ContactPreference` row to the gateway's
`ContactProfile` (channels, preferred hours, cease-communication). The portal hands the
profile to ``WebSettings.on_contact_preferences`` — for example ``Gateway.set_preferences``,
which keeps what the lender holds on file (consents, attorney) — so the pre-send gateway
honours what the borrower chose.
"""

from __future__ import annotations

from collectguard.gateway import ContactProfile
from collectguard.gateway.models import PreferredHours
from collectguard.gateway.policy import Channel
from collectguard.web.models import ContactPreference

__all__ = ["contact_profile"]

# The portal's channel switches and the gateway channels each one covers.
_CHANNELS: dict[str, tuple[Channel, ...]] = {
    "sms": ("sms",),
    "phone": ("call", "ai_voice"),
    "email": ("email",),
    "app_push": ("app_push",),
}


def contact_profile(prefs: ContactPreference) -> ContactProfile:
    """The gateway profile for one borrower's saved preferences."""
    opted_out: list[Channel] = [
        channel
        for switch, channels in _CHANNELS.items()
        if not getattr(prefs, switch)
        for channel in channels
    ]
    return ContactProfile(
        preferred_hours=PreferredHours(
            start=f"{prefs.hour_start:02d}:00", end=f"{prefs.hour_end:02d}:00"
        ),
        opted_out_channels=opted_out,
        cease_communication=prefs.opt_out,
    )
