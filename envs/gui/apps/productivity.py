"""Training apps (1/2): notes, todo, calendar.  See :mod:`envs.gui.apps.base` for the model."""

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
    press,
)


def _labels(rng: random.Random, options: dict[str, list[str]]) -> dict[str, str]:
    return {k: rng.choice(v) for k, v in options.items()}


def notes(rng: random.Random, style: Style) -> tuple[AppPage, list[Goal]]:
    L = _labels(rng, {"title": ["Notes", "My Notes", "Notebook", "Jotter"], "new": ["New note", "Add note", "+ Note"],
                      "save": ["Save", "Save note", "Done"], "cancel": ["Cancel", "Back"], "del": ["Delete", "Remove", "Trash"],
                      "t": ["Title", "Note title", "Heading"], "b": ["Text", "Body", "Content"]})
    titles = rng.sample(TOPICS, rng.randint(3, 6))
    state = {"notes": [{"id": i, "title": t.capitalize(), "body": f"{rng.choice(WORDS)} {rng.choice(WORDS)}"} for i, t in enumerate(titles)],
             "next": len(titles)}
    body = f"""
<div data-screen='main' class='stack'>
 <div><button data-op='new' data-tg='new-note'>{esc(L['new'])}</button></div>
 <ul data-tg='note-list' role='list'></ul>
</div>
<div data-screen='edit' class='panel' hidden>
 <label for='nt'>{esc(L['t'])}</label><input id='nt' type='text' data-field='title' data-tg='note-title' aria-label='{esc(L['t'])}'>
 <label for='nb'>{esc(L['b'])}</label><textarea id='nb' data-field='body' data-tg='note-body' aria-label='{esc(L['b'])}'></textarea>
 <div class='row'><button data-op='save' data-tg='save-note'>{esc(L['save'])}</button>
 <button class='plain' data-op='cancel' data-tg='cancel-note'>{esc(L['cancel'])}</button></div>
</div>"""
    script = f"""const L = {json.dumps(L)};
const OPS = {{
  new: () => {{ S.form = {{}}; $('note-title').value = ''; $('note-body').value = ''; show('edit'); }},
  save: () => {{ const t = (S.form.title || '').trim(); if (!t) return;
    S.notes.push({{id: S.next++, title: t, body: (S.form.body || '').trim()}}); show('main'); render(); }},
  cancel: () => show('main'),
  del: id => {{ S.notes = S.notes.filter(n => String(n.id) !== id); render(); }},
}};
function render() {{
  $('note-list').innerHTML = S.notes.map(n => `<li data-tg="note-${{n.id}}" aria-label="${{esc(n.title)}}"><span class="grow"><b>${{esc(n.title)}}</b>
  <span class="muted">${{esc(n.body)}}</span></span><button class="plain" data-op="del" data-arg="${{n.id}}" data-tg="note-${{n.id}}-delete"
  aria-label="${{esc(L.del)}} ${{esc(n.title)}}">${{esc(L.del)}}</button></li>`).join('');
}}"""
    n = len(state["notes"])
    new_title = f"{rng.choice(WORDS).capitalize()} {rng.choice(TOPICS)}"
    new_body = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(WORDS)}"
    victim = rng.choice(state["notes"])
    goals = [
        Goal(kind="create", params={"title": new_title, "body": new_body},
             texts=[f"Create a note titled '{new_title}' with the text '{new_body}'.",
                    f"Add a new note. Title: '{new_title}'. Body: '{new_body}'.",
                    f"Write down a note named '{new_title}' that says '{new_body}'."],
             expect=[{"op": "has", "path": "notes", "item": {"title": new_title, "body": new_body}}, {"op": "len", "path": "notes", "value": n + 1}],
             plan=[click("new-note", f"'{L['new']}'"), *fill("note-title", new_title, f"the {L['t'].lower()} field"),
                   *fill("note-body", new_body, f"the {L['b'].lower()} field"), click("save-note", f"'{L['save']}'")]),
        Goal(kind="delete", params={"title": victim["title"]},
             texts=[f"Delete the note '{victim['title']}'.", f"Remove the note called '{victim['title']}'.",
                    f"Get rid of the '{victim['title']}' note."],
             expect=[{"op": "lacks", "path": "notes", "item": {"title": victim["title"]}}, {"op": "len", "path": "notes", "value": n - 1}],
             plan=[click(f"note-{victim['id']}-delete", f"'{L['del']}' next to '{victim['title']}'")]),
    ]
    return AppPage(app="notes", title=L["title"], body=body, script=script, state=state, style=style), goals


def todo(rng: random.Random, style: Style) -> tuple[AppPage, list[Goal]]:
    L = _labels(rng, {"title": ["To-do", "Tasks", "Checklist", "Today"], "ph": ["Add a task", "New task", "What needs doing?"],
                      "add": ["Add", "Create", "+"]})
    items = rng.sample(TOPICS, rng.randint(4, 8))
    state = {"todos": [{"id": i, "text": t, "done": rng.random() < 0.3} for i, t in enumerate(items)], "next": len(items)}
    body = f"""
<div data-screen='main' class='stack'>
 <div class='row panel'><input type='text' data-field='new' data-enter='add' data-tg='todo-input' placeholder='{esc(L['ph'])}'
   aria-label='{esc(L['ph'])}'><button data-op='add' data-tg='todo-add'>{esc(L['add'])}</button></div>
 <ul data-tg='todo-list'></ul>
</div>"""
    script = """const OPS = {
  add: () => { const t = (S.form.new || '').trim(); if (!t) return; S.todos.push({id: S.next++, text: t, done: false});
    S.form.new = ''; $('todo-input').value = ''; render(); },
  toggle: (id, el) => { const t = S.todos.find(x => String(x.id) === id); if (t) t.done = el.checked; },
};
function render() {
  $('todo-list').innerHTML = S.todos.map(t => `<li data-tg="todo-${t.id}"><input type="checkbox" data-op="toggle" data-arg="${t.id}"
  data-tg="todo-${t.id}-check" aria-label="${esc(t.text)}" ${t.done ? 'checked' : ''}><span class="grow">${esc(t.text)}</span></li>`).join('');
}"""
    n = len(items)
    done0 = sum(t["done"] for t in state["todos"])
    new = f"{rng.choice(['buy', 'call', 'email', 'fix', 'book', 'plan'])} {rng.choice(TOPICS)}"
    open_items = [t for t in state["todos"] if not t["done"]] or state["todos"][:1]
    target = rng.choice(open_items)
    if target["done"]:
        target["done"], done0 = False, done0 - 1
    goals = [
        Goal(kind="add", params={"text": new}, texts=[f"Add the task '{new}' to the list.", f"Create a to-do item: '{new}'.",
                                                       f"Put '{new}' on my task list."],
             expect=[{"op": "has", "path": "todos", "item": {"text": new, "done": False}}, {"op": "len", "path": "todos", "value": n + 1}],
             plan=[*fill("todo-input", new, "the new-task field"), press("Enter", "to add the task")]),
        Goal(kind="check", params={"text": target["text"]},
             texts=[f"Mark the task '{target['text']}' as done.", f"Tick off '{target['text']}'.", f"I finished '{target['text']}'; check it off."],
             expect=[{"op": "has", "path": "todos", "item": {"text": target["text"], "done": True}},
                     {"op": "count", "path": "todos", "item": {"done": True}, "value": done0 + 1}],
             plan=[click(f"todo-{target['id']}-check", f"the checkbox of '{target['text']}'")]),
    ]
    return AppPage(app="todo", title=L["title"], body=body, script=script, state=state, style=style), goals


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]


def calendar(rng: random.Random, style: Style) -> tuple[AppPage, list[Goal]]:
    L = _labels(rng, {"ph": ["Event title", "What's happening?", "New event"], "add": ["Add event", "Save", "Add"],
                      "del": ["Delete", "Remove"], "on": ["Events on", "Agenda for", "Plans for"]})
    month, days = rng.choice(MONTHS), rng.choice([28, 30, 31])
    events = [{"id": i, "day": rng.randint(1, days), "title": t} for i, t in enumerate(rng.sample(TOPICS, rng.randint(2, 5)))]
    state = {"month": month, "days": days, "events": events, "next": len(events), "day": None}
    cells = "".join(f"<button class='plain' data-op='pick' data-arg='{d}' data-tg='day-{d}' aria-label='{month} {d}'>{d}</button>"
                    for d in range(1, days + 1))
    body = f"""
<div data-screen='main' class='stack'>
 <div><h2>{month}</h2><div class='grid' data-tg='month-grid'>{cells}</div></div>
 <div class='panel' data-tg='day-panel' hidden><h2 data-tg='day-heading'></h2><ul data-tg='event-list'></ul>
  <div class='row'><input type='text' data-field='title' data-enter='add' data-tg='event-title' placeholder='{esc(L['ph'])}'
   aria-label='{esc(L['ph'])}'><button data-op='add' data-tg='event-add'>{esc(L['add'])}</button></div></div>
</div>"""
    script = f"""const L = {json.dumps(L)};
const OPS = {{
  pick: d => {{ S.day = Number(d); render(); }},
  add: () => {{ const t = (S.form.title || '').trim(); if (!t || S.day === null) return;
    S.events.push({{id: S.next++, day: S.day, title: t}}); S.form.title = ''; $('event-title').value = ''; render(); }},
  del: id => {{ S.events = S.events.filter(e => String(e.id) !== id); render(); }},
}};
function render() {{
  $('day-panel').hidden = S.day === null; if (S.day === null) return;
  $('day-heading').textContent = `${{L.on}} ${{S.month}} ${{S.day}}`;
  $('event-list').innerHTML = S.events.filter(e => e.day === S.day).map(e => `<li data-tg="event-${{e.id}}"><span class="grow">${{esc(e.title)}}</span>
  <button class="plain" data-op="del" data-arg="${{e.id}}" data-tg="event-${{e.id}}-delete" aria-label="${{esc(L.del)}} ${{esc(e.title)}}">${{esc(L.del)}}</button></li>`).join('');
}}"""
    n = len(events)
    day, title = rng.randint(1, days), f"{rng.choice(WORDS)} {rng.choice(TOPICS)}"
    victim = rng.choice(events)
    goals = [
        Goal(kind="add", params={"day": day, "title": title},
             texts=[f"Add an event '{title}' on {month} {day}.", f"Schedule '{title}' for {month} {day}.",
                    f"Put '{title}' in the calendar on the {day}th of {month}."],
             expect=[{"op": "has", "path": "events", "item": {"day": day, "title": title}}, {"op": "len", "path": "events", "value": n + 1}],
             plan=[click(f"day-{day}", f"day {day}"), *fill("event-title", title, "the event title field"), press("Enter", "to add the event")]),
        Goal(kind="delete", params={"day": victim["day"], "title": victim["title"]},
             texts=[f"Delete the event '{victim['title']}' on {month} {victim['day']}.", f"Cancel '{victim['title']}' ({month} {victim['day']}).",
                    f"Remove '{victim['title']}' from {month} {victim['day']} in the calendar."],
             expect=[{"op": "lacks", "path": "events", "item": {"title": victim["title"], "day": victim["day"]}},
                     {"op": "len", "path": "events", "value": n - 1}],
             plan=[click(f"day-{victim['day']}", f"day {victim['day']}"), click(f"event-{victim['id']}-delete", f"'{L['del']}' next to '{victim['title']}'")]),
    ]
    return AppPage(app="calendar", title=f"Calendar {month}", body=body, script=script, state=state, style=style), goals
