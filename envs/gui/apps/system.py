"""Training apps (2/2): settings and mail.  See :mod:`envs.gui.apps.base` for the model."""

from __future__ import annotations

import json
import random

from envs.gui.apps.base import (
    TOPICS,
    WORDS,
    AppPage,
    Goal,
    Style,
    click,
    esc,
    fill,
    person,
    select,
)

TOGGLES = ["Wi-Fi", "Bluetooth", "Airplane mode", "Dark mode", "Notifications", "Location", "Auto-update", "Sound",
           "Vibration", "Auto-brightness", "Hotspot", "Sync", "Do not disturb", "Battery saver"]
CHOICES = {"Language": ["English", "French", "German", "Spanish", "Italian", "Dutch"],
           "Text size": ["Small", "Medium", "Large", "Huge"],
           "Time zone": ["UTC", "Europe/Paris", "Asia/Tokyo", "America/Lima", "Africa/Lagos"]}


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def settings(rng: random.Random, style: Style) -> tuple[AppPage, list[Goal]]:
    toggles = rng.sample(TOGGLES, rng.randint(7, 12))
    selects = rng.sample(sorted(CHOICES), 2)
    values = {slug(t): rng.random() < 0.5 for t in toggles}
    for s in selects:
        values[slug(s)] = rng.choice(CHOICES[s])
    rows = [f"<li><label class='grow' for='t-{slug(t)}'>{esc(t)}</label><input id='t-{slug(t)}' type='checkbox' role='switch' "
            f"data-field='{slug(t)}' data-tg='set-{slug(t)}' aria-label='{esc(t)}' {'checked' if values[slug(t)] else ''}></li>" for t in toggles]
    for s in selects:
        opts = "".join(f"<option {'selected' if v == values[slug(s)] else ''}>{esc(v)}</option>" for v in CHOICES[s])
        rows.insert(rng.randint(0, len(rows)), f"<li><label class='grow' for='s-{slug(s)}'>{esc(s)}</label><select id='s-{slug(s)}' "
                                              f"data-field='{slug(s)}' data-tg='set-{slug(s)}' aria-label='{esc(s)}'>{opts}</select></li>")
    title = rng.choice(["Settings", "Preferences", "System settings", "Device options"])
    body = f"<div data-screen='main'><ul class='panel' data-tg='settings-list'>{''.join(rows)}</ul></div>"
    script = "const OPS = { field: (f, el) => { S.settings[f] = formValue(el); } };"
    state = {"settings": dict(values)}
    keep = lambda *changed: [{"op": "eq", "path": f"settings.{k}", "value": v} for k, v in values.items() if k not in changed]

    t = rng.choice(toggles)
    want = not values[slug(t)]
    word = "on" if want else "off"
    s = rng.choice(selects)
    v = rng.choice([c for c in CHOICES[s] if c != values[slug(s)]])
    t2 = rng.choice([x for x in toggles if x != t])
    want2 = not values[slug(t2)]
    goals = [
        Goal(kind="toggle", params={"setting": t, "on": want},
             texts=[f"Turn {word} {t}.", f"Switch {t} {word}.", f"Make sure {t} is {'enabled' if want else 'disabled'}."],
             expect=[{"op": "eq", "path": f"settings.{slug(t)}", "value": want}, *keep(slug(t))],
             plan=[click(f"set-{slug(t)}", f"the {t} switch")]),
        Goal(kind="choose", params={"setting": s, "value": v},
             texts=[f"Set {s} to {v}.", f"Change the {s.lower()} to {v}.", f"I want {v} as my {s.lower()}."],
             expect=[{"op": "eq", "path": f"settings.{slug(s)}", "value": v}, *keep(slug(s))],
             plan=[select(f"set-{slug(s)}", v, f"the {s} list")]),
        Goal(kind="toggle2", params={"settings": [t, t2]},
             texts=[f"Turn {word} {t} and turn {'on' if want2 else 'off'} {t2}.",
                    f"Switch {t} {word}, then switch {t2} {'on' if want2 else 'off'}.",
                    f"I need {t} {'enabled' if want else 'disabled'} and {t2} {'enabled' if want2 else 'disabled'}."],
             expect=[{"op": "eq", "path": f"settings.{slug(t)}", "value": want}, {"op": "eq", "path": f"settings.{slug(t2)}", "value": want2},
                     *keep(slug(t), slug(t2))],
             plan=[click(f"set-{slug(t)}", f"the {t} switch"), click(f"set-{slug(t2)}", f"the {t2} switch")]),
    ]
    return AppPage(app="settings", title=title, body=body, script=script, state=state, style=style), goals


def mail(rng: random.Random, style: Style) -> tuple[AppPage, list[Goal]]:
    L = {k: rng.choice(v) for k, v in {"compose": ["Compose", "New email", "Write"], "send": ["Send", "Send now"],
                                       "discard": ["Discard", "Cancel"], "star": ["Star", "Flag", "Pin"], "del": ["Delete", "Trash"],
                                       "title": ["Inbox", "Mail", "Messages"]}.items()}
    senders = list(dict.fromkeys(person(rng) for _ in range(14)))[: rng.randint(8, 12)]
    mails = [{"id": i, "from": who, "subject": rng.choice(TOPICS).capitalize(), "starred": False} for i, who in enumerate(senders)]
    state = {"mails": mails, "sent": []}
    body = f"""
<div data-screen='main' class='stack'>
 <div><button data-op='compose' data-tg='compose'>{esc(L['compose'])}</button></div>
 <ul data-tg='inbox'></ul>
</div>
<div data-screen='compose' class='panel' hidden>
 <label for='mt'>To</label><input id='mt' type='text' data-field='to' data-tg='mail-to' aria-label='To'>
 <label for='ms'>Subject</label><input id='ms' type='text' data-field='subject' data-tg='mail-subject' aria-label='Subject'>
 <label for='mb'>Message</label><textarea id='mb' data-field='body' data-tg='mail-body' aria-label='Message'></textarea>
 <div class='row'><button data-op='send' data-tg='mail-send'>{esc(L['send'])}</button>
 <button class='plain' data-op='discard' data-tg='mail-discard'>{esc(L['discard'])}</button></div>
</div>"""
    script = f"""const L = {json.dumps(L)};
const OPS = {{
  compose: () => {{ S.form = {{}}; ['mail-to', 'mail-subject', 'mail-body'].forEach(i => $(i).value = ''); show('compose'); }},
  send: () => {{ if (!(S.form.to || '').trim()) return; S.sent.push({{to: S.form.to.trim(), subject: (S.form.subject || '').trim(),
    body: (S.form.body || '').trim()}}); show('main'); render(); }},
  discard: () => show('main'),
  star: id => {{ const m = S.mails.find(x => String(x.id) === id); if (m) m.starred = !m.starred; render(); }},
  del: id => {{ S.mails = S.mails.filter(x => String(x.id) !== id); render(); }},
}};
function render() {{
  $('inbox').innerHTML = S.mails.map(m => `<li data-tg="mail-${{m.id}}" aria-label="${{esc(m.from)}}: ${{esc(m.subject)}}">
  <span class="grow"><b>${{esc(m.from)}}</b> <span class="muted">${{esc(m.subject)}}</span></span>
  <button class="plain" data-op="star" data-arg="${{m.id}}" data-tg="mail-${{m.id}}-star" aria-pressed="${{m.starred}}"
   aria-label="${{esc(L.star)}} email from ${{esc(m.from)}}">${{m.starred ? '★' : '☆'}} ${{esc(L.star)}}</button>
  <button class="plain" data-op="del" data-arg="${{m.id}}" data-tg="mail-${{m.id}}-delete" aria-label="${{esc(L.del)}} email from ${{esc(m.from)}}">${{esc(L.del)}}</button></li>`).join('');
}}"""
    n = len(mails)
    a, b = rng.sample(mails, 2)
    to = f"{rng.choice(WORDS)}.{rng.choice(WORDS)}@example.org"
    subject = f"{rng.choice(TOPICS).capitalize()} {rng.choice(WORDS)}"
    goals = [
        Goal(kind="star", params={"from": a["from"]},
             texts=[f"Star the email from {a['from']} about '{a['subject']}'.", f"Flag {a['from']}'s message '{a['subject']}' as important.",
                    f"Mark the mail '{a['subject']}' from {a['from']} with a star."],
             expect=[{"op": "has", "path": "mails", "item": {"id": a["id"], "starred": True}},
                     {"op": "count", "path": "mails", "item": {"starred": True}, "value": 1}, {"op": "len", "path": "mails", "value": n}],
             plan=[click(f"mail-{a['id']}-star", f"'{L['star']}' on the email from {a['from']}")]),
        Goal(kind="delete", params={"from": b["from"]},
             texts=[f"Delete the email from {b['from']} about '{b['subject']}'.", f"Trash {b['from']}'s message '{b['subject']}'.",
                    f"Throw away the mail '{b['subject']}' that {b['from']} sent."],
             expect=[{"op": "lacks", "path": "mails", "item": {"id": b["id"]}}, {"op": "len", "path": "mails", "value": n - 1},
                     {"op": "len", "path": "sent", "value": 0}],
             plan=[click(f"mail-{b['id']}-delete", f"'{L['del']}' on the email from {b['from']}")]),
        Goal(kind="send", params={"to": to, "subject": subject},
             texts=[f"Send an email to {to} with the subject '{subject}'.", f"Write to {to}; subject: '{subject}'.",
                    f"Email {to} about '{subject}' (use that as the subject)."],
             expect=[{"op": "has", "path": "sent", "item": {"to": to, "subject": subject}}, {"op": "len", "path": "sent", "value": 1},
                     {"op": "len", "path": "mails", "value": n}],
             plan=[click("compose", f"'{L['compose']}'"), *fill("mail-to", to, "the To field"), *fill("mail-subject", subject, "the Subject field"),
                   click("mail-send", f"'{L['send']}'")]),
    ]
    return AppPage(app="mail", title=L["title"], body=body, script=script, state=state, style=style), goals
