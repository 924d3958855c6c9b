"""What the bot says, Danish first with English beside it.

Youth-facing system messages carry a `key` too, so the youth page can show them in the
young person's language; counsellor-facing texts are Danish (they work in Danish).
"""

from __future__ import annotations

YOUTH: dict[str, dict[str, str]] = {
    "counsellor_joined": {
        "da": "En rådgiver er kommet ind i samtalen. Du kan skrive løs.",
        "en": "A counsellor has joined the conversation. Go ahead and write.",
    },
    "waiting": {
        "da": "Du er i kø. En rådgiver kommer ind i samtalen, så snart der er en ledig.",
        "en": "You are in the queue. A counsellor will join as soon as one is free.",
    },
}

COUNSELLOR: dict[str, str] = {
    "room_topic": (
        "Anonym samtale fra ungechat · kanal: {kanal}. Den unge ser dig som »Rådgiver«. "
        "Skriv !luk for at afslutte – så slettes samtalen."
    ),
    "room_name": "Samtale {short}",
    "lobby_waiting": "🟡 Ny samtale venter · kanal: {kanal}{answers} · {link}",
    "lobby_active": "🟢 Samtale i gang · kanal: {kanal}{answers} · {link}",
    "lobby_closed": "⚪ Samtale afsluttet og slettet · kanal: {kanal}{answers}",
    "claimed_hint": (
        "Du har taget samtalen. Den unge får at vide, at en rådgiver er kommet ind – ikke hvem. "
        "Skriv !luk [emne …] når I er færdige; så slettes samtalen."
    ),
    "closing": "Samtalen afsluttes og slettes nu.",
    "unknown_command": "Ukendt kommando: {command}. Kommandoer: !luk (alias !close).",
}


def youth_text(key: str, lang: str = "da") -> str:
    texts = YOUTH[key]
    return texts.get(lang) or texts["da"]
