"""What the bot says, Danish first with English beside it.

Youth-facing system messages carry a `key` too (`dk.ungechat.youth_visible`), so the
youth page can show them in the young person's own language. Counsellor-facing texts
are chosen by the municipality's `counsellor_language` (Danish unless set to English).
Nothing here ever names a counsellor to a young person.
"""

from __future__ import annotations

YOUTH: dict[str, dict[str, str]] = {
    "counsellor_joined": {
        "da": "En rådgiver er kommet ind i samtalen. Du kan skrive løs.",
        "en": "A counsellor has joined the conversation. Go ahead and write.",
    },
    "another_counsellor_joined": {
        "da": "En rådgiver mere er med i samtalen.",
        "en": "One more counsellor has joined the conversation.",
    },
    "counsellor_left": {
        "da": "Rådgiveren har forladt samtalen. Du er tilbage i køen – en anden rådgiver "
        "kommer ind, så snart der er en ledig.",
        "en": "The counsellor has left the conversation. You are back in the queue – another "
        "counsellor will join as soon as one is free.",
    },
    "supervisor_reading": {
        "da": "En rådgiver mere læser med for at hjælpe rådgiveren. Det er stadig kun "
        "rådgiveren, der skriver til dig, og alt er stadig anonymt.",
        "en": "One more counsellor is reading along to help the counsellor. Only the "
        "counsellor writes to you, and everything is still anonymous.",
    },
    "one_counsellor_left": {
        "da": "En af rådgiverne har forladt samtalen. Du skriver stadig med en rådgiver.",
        "en": "One of the counsellors has left the conversation. You are still writing with "
        "a counsellor.",
    },
    "urgent_wait": {
        "da": "Vi har set, at det haster, og du er først i køen. Hvis du er i fare nu og "
        "ikke kan vente, så ring 112.",
        "en": "We can see it is urgent, and you are first in the queue. If you are in danger "
        "now and cannot wait, call 112.",
    },
    "waiting": {
        "da": "Du er i kø. En rådgiver kommer ind i samtalen, så snart der er en ledig.",
        "en": "You are in the queue. A counsellor will join as soon as one is free.",
    },
    "transferred": {
        "da": "Din samtale bliver sendt videre til en rådgiver i {kommune}. Bliv her – "
        "der kommer en ind om lidt. Det, du har skrevet, kan den nye rådgiver læse.",
        "en": "Your conversation is being passed on to a counsellor in {kommune}. Stay here – "
        "someone will join shortly. The new counsellor can read what you have written.",
    },
    "hours_ending": {
        "da": "Chatten lukker nu for i dag, men I har stadig {minutes} minutter til at "
        "runde af. Du kan altid komme igen næste gang, vi har åbent.",
        "en": "The chat is closing for today, but you still have {minutes} minutes to round "
        "off. You are always welcome back next time we are open.",
    },
    "closed_hours": {
        "da": "Chatten er lukket for i dag, og samtalen er slut. Tak fordi du skrev.",
        "en": "The chat has closed for today, and the conversation has ended. Thank you "
        "for writing.",
    },
    "closed_idle": {
        "da": "Samtalen er slut, fordi ingen har skrevet i et stykke tid. Du er altid "
        "velkommen til at starte en ny.",
        "en": "The conversation has ended because nobody has written for a while. You are "
        "always welcome to start a new one.",
    },
    "closed_unanswered": {
        "da": "Vi nåede desværre ikke at svare dig denne gang. Prøv igen næste gang, vi har "
        "åbent – eller brug numrene herunder, hvis du har brug for hjælp nu.",
        "en": "Sorry, we did not manage to answer you this time. Please try again next time "
        "we are open – or use the numbers below if you need help now.",
    },
}


def youth_text(key: str, lang: str = "da", **values: str) -> str:
    texts = YOUTH[key]
    return (texts.get(lang) or texts["da"]).format(**values)


COUNSELLOR: dict[str, dict[str, str]] = {
    "room_name": {"da": "Samtale {short}", "en": "Conversation {short}"},
    "room_topic": {
        "da": "Anonym samtale fra ungechat · kanal: {kanal}. Den unge ser dig kun som "
        "»Rådgiver«. Skriv !hjælp for kommandoer, !luk [emner] for at afslutte.",
        "en": "Anonymous ungechat conversation · channel: {kanal}. The young person sees you "
        "only as »Counsellor«. Type !help for commands, !close [topics] to end it.",
    },
    "lobby_waiting": {
        "da": "🟡 Ny samtale venter siden {since} · kanal: {kanal}{answers} · id {short}",
        "en": "🟡 New conversation waiting since {since} · channel: {kanal}{answers} · id {short}",
    },
    "lobby_urgent": {
        "da": "🔴 HASTER · ",
        "en": "🔴 URGENT · ",
    },
    "urgent_ping": {
        "da": "{mentions}: denne samtale haster og er først i køen.",
        "en": "{mentions}: this conversation is urgent and first in the queue.",
    },
    "urgent_marked": {
        "da": "Samtale {short} haster nu: den er først i køen, og dem på vagt har fået besked.",
        "en": "Conversation {short} is now urgent: first in the queue, and those on duty "
        "have been told.",
    },
    "urgent_usage": {
        "da": "Skriv !haster ID med id'et fra en ventende samtale i Kø. Ventende: {waiting}",
        "en": "Type !urgent-first ID with the id of a waiting conversation in Kø. Waiting: "
        "{waiting}",
    },
    "lobby_waiting_again": {
        "da": "🟡 Samtalen venter igen (rådgiveren gik) · kanal: {kanal}{answers}",
        "en": "🟡 Waiting again (the counsellor left) · channel: {kanal}{answers}",
    },
    "lobby_transferred_in": {
        "da": "🟡 Samtale overført fra {origin} venter siden {since} · kanal: {kanal}{answers}",
        "en": "🟡 Conversation transferred from {origin}, waiting since {since} · "
        "channel: {kanal}{answers}",
    },
    "lobby_active": {
        "da": "🟢 Samtale i gang (taget kl. {claimed}) · kanal: {kanal}{answers}",
        "en": "🟢 Conversation in progress (taken at {claimed}) · channel: {kanal}{answers}",
    },
    # Reasons given when a queue entry is redacted (Element shows them in its place).
    "lobby_removed_transferred": {
        "da": "↪️ Samtalen er overført til {target}",
        "en": "↪️ The conversation was transferred to {target}",
    },
    "lobby_held": {
        "da": "🔒 Samtale {short} afsluttet og bevaret skrivebeskyttet til {until} "
        "(underretning) · kanal: {kanal} · skriv !slet {short} her for at slette den før",
        "en": "🔒 Conversation {short} ended and kept read-only until {until} (duty to "
        "notify) · channel: {kanal} · type !delete {short} here to delete it sooner",
    },
    "lobby_removed_closed": {
        "da": "⚪ Samtalen er afsluttet og slettet",
        "en": "⚪ The conversation has ended and been deleted",
    },
    "open_link": {"da": "Åbn samtalen", "en": "Open the conversation"},
    "unlisted_kick_reason": {
        "da": "Kun rådgivere i ungechat kan være med i samtaler med unge.",
        "en": "Only ungechat counsellors can take part in conversations with young people.",
    },
    "unlisted_removed": {
        "da": "{who} er ikke rådgiver i ungechat og er taget ud af samtalen. Den unge har "
        "ikke set noget til det. Skal personen være med, skal kommunens IT tilføje dem i "
        "opsætningen.",
        "en": "{who} is not an ungechat counsellor and has been removed from the "
        "conversation. The young person saw nothing of it. If they should take part, the "
        "municipality's IT must add them to the config.",
    },
    "ping_waiting": {
        "da": "{mentions} – en ung venter på en rådgiver.",
        "en": "{mentions} – a young person is waiting for a counsellor.",
    },
    "reminder_nobody_on_duty": {
        "da": "{mentions} – en ung har ventet i {minutes} minutter, og ingen er på vagt. "
        "Kan en af jer tage samtalen? (Skriv !vagt start her, når du er på vagt.)",
        "en": "{mentions} – a young person has waited {minutes} minutes and nobody is on "
        "duty. Can one of you take it? (Type !duty start here when you are on duty.)",
    },
    "claimed_hint": {
        "da": "Du har taget samtalen. Den unge får at vide, at en rådgiver er kommet ind – "
        "ikke hvem. Skriv !hjælp for kommandoer; !intern tekst er kun til jer rådgivere.",
        "en": "You have taken the conversation. The young person is told a counsellor has "
        "joined – not who. Type !help for commands; !note text is for counsellors only.",
    },
    "duty_started": {
        "da": "✅ {who} er på vagt. På vagt nu: {count}.",
        "en": "✅ {who} is on duty. On duty now: {count}.",
    },
    "duty_already": {
        "da": "Du er allerede på vagt. På vagt nu: {count}.",
        "en": "You are already on duty. On duty now: {count}.",
    },
    "duty_ended": {
        "da": "👋 {who} er gået af vagt. På vagt nu: {count}.",
        "en": "👋 {who} is off duty. On duty now: {count}.",
    },
    "duty_still_holding": {
        "da": "Du har stadig samtaler i gang: {conversations}. Hvad skal der ske med dem? "
        "Skriv »!vagt slut behold« for at blive i dem, til de er slut, eller »!vagt slut "
        "overdrag« for at sende dem tilbage i køen til en kollega. Ingen ung bliver "
        "efterladt alene.",
        "en": "You still have conversations under way: {conversations}. What should happen "
        "to them? Type “!duty end keep” to stay in them until they end, or “!duty end "
        "handover” to send them back to the queue for a colleague. No young person is "
        "left alone.",
    },
    "handed_back_reason": {
        "da": "Gået af vagt: samtalen går tilbage i køen til en kollega.",
        "en": "Went off duty: the conversation goes back to the queue for a colleague.",
    },
    "duty_ended_closed": {
        "da": "👋 Chatten er lukket, så {who} er taget af vagt. Tak for i dag! "
        "På vagt nu: {count}.",
        "en": "👋 The chat has closed, so {who} is off duty. Thank you for today! "
        "On duty now: {count}.",
    },
    "duty_ended_long": {
        "da": "👋 {who} har været på vagt i {hours} timer og er taget af vagt, så de unge "
        "ikke venter på en, der er gået hjem. Er du her stadig, så skriv !vagt start. "
        "På vagt nu: {count}.",
        "en": "👋 {who} has been on duty for {hours} hours and is now off duty, so young "
        "people don't wait for someone who has gone home. Still here? Type !duty start. "
        "On duty now: {count}.",
    },
    "duty_not_on": {
        "da": "Du var ikke på vagt. På vagt nu: {count}.",
        "en": "You were not on duty. On duty now: {count}.",
    },
    "duty_usage": {
        "da": "Skriv !vagt start eller !vagt slut. På vagt nu: {count}.",
        "en": "Type !duty start or !duty end. On duty now: {count}.",
    },
    "answers_list": {
        "da": "Forberedte svar (den unge ser dem som din besked):\n{answers}",
        "en": "Prepared answers (the young person sees them as your message):\n{answers}",
    },
    "care_private": {
        "da": "Det var en tung samtale, du lige har afsluttet. Tag en pause, før du tager "
        "den næste, og snak med en kollega om den — også selvom det gik godt. Du behøver "
        "ikke bære den alene.",
        "en": "That was a heavy conversation you just closed. Take a break before the "
        "next one, and talk it over with a colleague — even if it went well. You don't "
        "have to carry it alone.",
    },
    "care_staff": {
        "da": "En tung samtale er lige afsluttet. Kig gerne forbi hinanden og spørg, "
        "hvordan det går.",
        "en": "A heavy conversation has just ended. Check in on each other and ask how it's going.",
    },
    "coaching_room_name": {
        "da": "Sparring om samtale {short}",
        "en": "Coaching on conversation {short}",
    },
    "coaching_room_topic": {
        "da": "Kun for rådgiveren og supervisoren. Den unge ser intet herfra. Rummet slettes "
        "sammen med samtalen.",
        "en": "Only for the counsellor and the supervisor. The young person sees nothing "
        "from here. The room is deleted with the conversation.",
    },
    "care_room_name": {"da": "Ungechat – til dig", "en": "Ungechat – for you"},
    "care_room_topic": {
        "da": "Kun dig og botten: en hilsen efter de tunge samtaler.",
        "en": "Only you and the bot: a word after the heavy conversations.",
    },
    "answers_in_help": {
        "da": "Forberedte svar (!svar NAVN): {names}",
        "en": "Prepared answers (!svar NAME): {names}",
    },
    "answers_none": {
        "da": "Der er ingen forberedte svar endnu. De skrives i konfigurationen under "
        "prepared_answers; spørg jeres koordinator.",
        "en": "There are no prepared answers yet. They are written in the config under "
        "prepared_answers; ask your coordinator.",
    },
    "answer_unknown": {
        "da": "Der er intet forberedt svar, der hedder »{name}«.",
        "en": "There is no prepared answer called “{name}”.",
    },
    "answer_too_late": {
        "da": "Samtalen er slut, så svaret blev ikke sendt.",
        "en": "The conversation has ended, so the answer was not sent.",
    },
    "topics_unknown": {
        "da": "Ukendt emne: {unknown}. Vælg blandt: {topics}.",
        "en": "Unknown topic: {unknown}. Choose from: {topics}.",
    },
    "topics_added": {
        "da": "Emner: {topics}. De gemmes anonymt, når samtalen lukkes.",
        "en": "Topics: {topics}. They are saved anonymously when the conversation closes.",
    },
    "topics_usage": {
        "da": "Skriv !emne og et eller flere emner: {topics}.",
        "en": "Type !topic and one or more topics: {topics}.",
    },
    "closing": {
        "da": "Samtalen afsluttes og slettes nu.",
        "en": "The conversation is being ended and deleted now.",
    },
    "closing_held": {
        "da": "Samtalen afsluttes. Den unge er ude, og rummet bevares skrivebeskyttet til "
        "{until}. Skriv !slet {short} i Kø for at slette det før.",
        "en": "The conversation is ending. The young person is out, and the room is kept "
        "read-only until {until}. Type !delete {short} in Kø to delete it sooner.",
    },
    "hold_set": {
        "da": "🔒 Samtalen bevares i {days} dage efter, den slutter (slutter den i dag, til "
        "{until}), så I kan underrette. Den unge ser intet om det. Skriv !bevar 0 for at "
        "fortryde, eller !slet {short} i Kø for at slette den før, når den er slut.",
        "en": "🔒 The conversation will be kept {days} days after it ends (if it ends today, "
        "until {until}) so you can notify. The young person sees nothing of this. Type "
        "!keep 0 to undo, or !delete {short} in Kø to delete it sooner once it has ended.",
    },
    "hold_cancelled": {
        "da": "Samtalen bevares ikke alligevel: den slettes, når den slutter.",
        "en": "The conversation will not be kept after all: it is deleted when it ends.",
    },
    "hold_capped": {
        "da": "Højst {max} dage er tilladt her; bevarer i {max} dage.",
        "en": "At most {max} days are allowed here; keeping for {max} days.",
    },
    "hold_usage": {
        "da": "Skriv !bevar [dage], fx !bevar 7 (højst {max}), eller !bevar 0 for at fortryde.",
        "en": "Type !keep [days], e.g. !keep 7 (at most {max}), or !keep 0 to undo.",
    },
    "delete_usage": {
        "da": "Skriv !slet og samtalens korte id (fx !slet a1b2c3) for at slette en bevaret "
        "samtale. Bevarede nu: {held}.",
        "en": "Type !delete and the conversation's short id (e.g. !delete a1b2c3) to delete "
        "a kept conversation. Kept now: {held}.",
    },
    "deleting": {
        "da": "Samtale {short} slettes nu.",
        "en": "Conversation {short} is being deleted now.",
    },
    "transfer_unknown": {
        "da": "Ukendt kommune: {slug}. Du kan overføre til: {choices}.",
        "en": "Unknown municipality: {slug}. You can transfer to: {choices}.",
    },
    "transfer_usage": {
        "da": "Skriv !overfør og kommunens navn i linket, fx !overfør {example}. Mulige: "
        "{choices}.",
        "en": "Type !transfer and the municipality's link name, e.g. !transfer {example}. "
        "Possible: {choices}.",
    },
    "transfer_unreachable": {
        "da": "{target} kan ikke nås lige nu (deres server svarer ikke). Samtalen bliver hos "
        "jer; prøv igen om lidt.",
        "en": "{target} cannot be reached right now (their server does not answer). The "
        "conversation stays with you; try again shortly.",
    },
    "transfer_closed": {
        "da": "{target}s chat er lukket lige nu (den åbner {when}). Samtalen bliver hos jer.",
        "en": "{target}'s chat is closed right now (it opens {when}). The conversation stays "
        "with you.",
    },
    "transfer_nobody_on_duty": {
        "da": "Ingen i {target} er på vagt lige nu, så ingen ville tage samtalen. Den bliver "
        "hos jer; prøv igen, når en af dem har skrevet !vagt start.",
        "en": "Nobody in {target} is on duty right now, so nobody would take the "
        "conversation. It stays with you; try again once one of them has typed !duty start.",
    },
    "transfer_started": {
        "da": "↪️ Samtalen overføres til {target}. Deres rådgivere får den i deres kø; du "
        "kan blive i rummet, til en af dem er kommet ind.",
        "en": "↪️ The conversation is transferred to {target}. Their counsellors get it in "
        "their queue; you may stay in the room until one of them has joined.",
    },
    "akut_sent": {
        "da": "🚨 Dine kolleger på vagt har fået besked i personalerummet.",
        "en": "🚨 Your colleagues on duty have been alerted in the staff room.",
    },
    "akut_alert": {
        "da": "🚨 {mentions} – {who} har brug for hjælp nu i en samtale med en ung: {link}",
        "en": "🚨 {mentions} – {who} needs help now in a conversation with a young person: {link}",
    },
    "nobody_on_duty": {"da": "(ingen på vagt)", "en": "(nobody on duty)"},
    "not_here": {
        "da": "!{command} virker {where}.",
        "en": "!{command} works {where}.",
    },
    "where_conversation": {"da": "i en samtale", "en": "in a conversation"},
    "where_lobby": {"da": "i Kø-rummet", "en": "in the Kø (queue) room"},
    "unknown_command": {
        "da": "Ukendt kommando: !{command}. Skriv !hjælp for at se alle kommandoer.",
        "en": "Unknown command: !{command}. Type !help to see every command.",
    },
    "command_failed": {
        "da": "Det gik galt (reference {reference}). Prøv igen, eller giv IT referencen.",
        "en": "Something went wrong (reference {reference}). Try again, or give IT the reference.",
    },
    "case_note": {
        "da": "Fra en samtale i {kommune}{topics}: {text}",
        "en": "From a conversation in {kommune}{topics}: {text}",
    },
    "case_note_topics": {"da": ", emne: {topics}", "en": ", topic: {topics}"},
    "case_note_shared": {
        "da": "Delt anonymt i »{room}«.",
        "en": "Shared anonymously in »{room}«.",
    },
    "case_note_usage": {
        "da": "Skriv !del RUM tekst, fx !del {example} Hvordan ville I gribe … an? Rum: {rooms}.",
        "en": "Type !share ROOM text, e.g. !share {example} How would you approach …? "
        "Rooms: {rooms}.",
    },
    "case_note_not_member": {
        "da": "Du er ikke med i sparringsrummet {room}. Rum, du kan dele i: {rooms}.",
        "en": "You are not in the sparring room {room}. Rooms you can share in: {rooms}.",
    },
    "case_note_identifying": {
        "da": "Ikke delt: teksten ser ud til at indeholde {what}. Tag det ud, og prøv igen – "
        "intet må kunne føre tilbage til den unge.",
        "en": "Not shared: the text seems to contain {what}. Take it out and try again – "
        "nothing may lead back to the young person.",
    },
    # The letterbox (bots/letters/, docs/letterbox.md).
    "letter_room_name": {"da": "Brev {short}", "en": "Letter {short}"},
    "letter_room_topic": {
        "da": "Anonymt brev fra ungechat · kanal: {kanal}. Svar med en almindelig besked – "
        "den unge læser den med sin kode og ser dig kun som »Rådgiver«. !intern tekst og "
        "kommandoer ser den unge aldrig.",
        "en": "Anonymous ungechat letter · channel: {kanal}. Answer with an ordinary message "
        "– the young person reads it with their code and sees you only as »Counsellor«. "
        "They never see !note text or commands.",
    },
    "letter_hint": {
        "da": "✉️ Et anonymt brev. Svar med en almindelig besked: den unge ser den, næste "
        "gang de åbner brevet med deres kode, og kan skrive tilbage. Din første besked "
        "markerer brevet som besvaret i Brevkasse. Svar senest {due}. !intern tekst er kun "
        "til jer; !bevar [dage] gemmer brevet ved underretningspligt.",
        "en": "✉️ An anonymous letter. Answer with an ordinary message: the young person sees "
        "it the next time they open the letter with their code, and can write back. Your "
        "first message marks the letter answered in the Brevkasse. Answer by {due}. !note "
        "text is for counsellors only; !keep [days] keeps the letter for a duty to notify.",
    },
    "letterbox_waiting": {
        "da": "✉️ Brev {short} venter på svar – skrevet {written} · svar senest {due} · "
        "kanal: {kanal}{answers}",
        "en": "✉️ Letter {short} waits for an answer – written {written} · answer by {due} · "
        "channel: {kanal}{answers}",
    },
    "letterbox_again": {
        "da": "✉️ Brev {short}: den unge har skrevet igen {written} · svar senest {due} · "
        "kanal: {kanal}{answers}",
        "en": "✉️ Letter {short}: the young person wrote again {written} · answer by {due} · "
        "channel: {kanal}{answers}",
    },
    "letterbox_answered": {
        "da": "✅ Brev {short} er besvaret {answered}{read} · kanal: {kanal}{answers}",
        "en": "✅ Letter {short} was answered {answered}{read} · channel: {kanal}{answers}",
    },
    "letterbox_read": {"da": " · den unge har læst svaret", "en": " · the young person read it"},
    "letterbox_held": {
        "da": "🔒 Brev {short} bevaret skrivebeskyttet til {until} (underretning) · kanal: {kanal}",
        "en": "🔒 Letter {short} kept read-only until {until} (duty to notify) · channel: {kanal}",
    },
    "letterbox_removed": {
        "da": "⚪ Brevet er slettet",
        "en": "⚪ The letter has been deleted",
    },
    "open_letter": {"da": "Åbn brevet", "en": "Open the letter"},
    "letter_ping_open": {
        "da": "{mentions} – brev {short} venter på svar (senest {due}).",
        "en": "{mentions} – letter {short} waits for an answer (by {due}).",
    },
    "letter_reminder": {
        "da": "{mentions} – brev {short} skal besvares senest {due}, og ingen har svaret endnu.",
        "en": "{mentions} – letter {short} must be answered by {due}, and nobody has yet.",
    },
    "letter_kept": {
        "da": "🔒 Brevet bevares i {days} dage, efter den unge har slettet det eller det er "
        "udløbet (underretningspligt). !bevar 0 fortryder.",
        "en": "🔒 The letter is kept {days} days after the young person deletes it or it "
        "expires (duty to notify). !keep 0 undoes it.",
    },
    "letter_not_kept": {
        "da": "Brevet slettes som normalt.",
        "en": "The letter will be deleted as usual.",
    },
    "letter_keep_usage": {
        "da": "Skriv !bevar [dage], højst {max} dage.",
        "en": "Type !keep [days], at most {max} days.",
    },
    "help_title": {
        "da": "Kommandoer (skriv dem som en besked; den unge ser dem aldrig):",
        "en": "Commands (type them as a message; the young person never sees them):",
    },
}


def counsellor_text(key: str, lang: str = "da", **values: object) -> str:
    texts = COUNSELLOR[key]
    return (texts.get(lang) or texts["da"]).format(**values)


# What the youth page says unless a municipality has its own words (`texts:` in the
# config); {kommune} is filled in with its name.
PAGE: dict[str, dict[str, str]] = {
    "intro": {
        "da": (
            "Her kan du skrive med en ungerådgiver fra {kommune} om det, der fylder – stort"
            " eller småt."
        ),
        "en": (
            "Here you can write with a youth counsellor from {kommune} about whatever is on"
            " your mind – big or small."
        ),
    },
    "promise": {
        "da": (
            "Du er helt anonym. Du skal ikke oprette en profil, og vi kan ikke se, hvem du "
            "er. Når samtalen slutter, bliver den slettet. Vi gemmer kun en optælling uden "
            "noget, der kan føre tilbage til dig."
        ),
        "en": (
            "You are completely anonymous. You don't need an account, and we can't see who "
            "you are. When the conversation ends, it is deleted. We only keep a count with "
            "nothing that can lead back to you."
        ),
    },
    "help_now": {
        "da": (
            "Er du i fare lige nu, så ring 112. Du kan altid ringe til BørneTelefonen på "
            "116 111, og tænker du på at tage dit liv, kan du ringe til Livslinien på 70 "
            "201 201."
        ),
        "en": (
            "If you are in danger right now, call 112. You can always call BørneTelefonen "
            "on 116 111, and if you are thinking about taking your own life, you can call "
            "Livslinien on 70 201 201."
        ),
    },
    # {days} is filled in by the page: the municipality's `letters.answer_days`.
    "letter_offer": {
        "da": "Skriv et brev – en rådgiver svarer inden for {days} dage.",
        "en": "Write a letter – a counsellor answers within {days} days.",
    },
    "letter_go": {"da": "Skriv eller læs et brev", "en": "Write or read a letter"},
    "closed": {
        "da": "Chatten er lukket lige nu.",
        "en": "The chat is closed right now.",
    },
}
