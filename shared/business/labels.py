"""UI-language fallback labels (business.md §A8: "keep them in one constants module")."""

from __future__ import annotations

CONTACT_FALLBACK = "Контакт"  # "Contact": a person with no name, email, identifier or id
CLIENT_AUTHOR_FALLBACK = "Клиент"  # "Client": a client-side message whose person has no name
TEAM_AUTHOR_FALLBACK = "Команда"  # "Team": an agent/bot message without a sender name
