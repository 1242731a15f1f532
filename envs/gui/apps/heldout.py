"""Held-out apps (test split only): files and contacts.  See :mod:`envs.gui.apps.base`."""

from __future__ import annotations

import json
import random

from envs.gui.apps.base import (
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

FOLDERS = ["Documents", "Photos", "Music", "Projects", "Downloads", "Archive", "Recipes", "Invoices"]
EXTENSIONS = {"Documents": "docx", "Photos": "jpg", "Music": "mp3", "Projects": "zip", "Downloads": "pdf", "Archive": "tar",
              "Recipes": "txt", "Invoices": "pdf"}
GROUPS = ["Family", "Friends", "Work", "Neighbours", "Club"]


def files(rng: random.Random, style: Style) -> tuple[AppPage, list[Goal]]:
    L = {k: rng.choice(v) for k, v in {"back": ["Back", "Up", "All folders"], "del": ["Delete selected", "Remove selected", "Trash"],
                                       "new": ["New folder", "Create folder", "+ Folder"], "create": ["Create", "OK"],
                                       "title": ["Files", "My Drive", "Storage"]}.items()}
    folders = [{"name": f, "files": [{"name": f"{w}.{EXTENSIONS[f]}"} for w in rng.sample(WORDS, rng.randint(3, 7))]}
               for f in rng.sample(FOLDERS, rng.randint(3, 6))]
    state = {"folders": folders, "open": None, "picked": []}
    body = f"""
<div data-screen='main' class='stack'>
 <div><button class='plain' data-op='newfolder' data-tg='new-folder'>{esc(L['new'])}</button></div>
 <ul data-tg='folder-list'></ul>
</div>
<div data-screen='folder' hidden><div class='row'><button class='plain' data-op='back' data-tg='back'>{esc(L['back'])}</button>
 <h2 class='grow' data-tg='folder-name'></h2><button data-op='delete' data-tg='delete-selected'>{esc(L['del'])}</button></div>
 <ul data-tg='file-list'></ul></div>
<div data-screen='create' class='panel' hidden><label for='fn'>Folder name</label>
 <input id='fn' type='text' data-field='folder' data-tg='folder-input' aria-label='Folder name'>
 <div class='row'><button data-op='create' data-tg='create-folder'>{esc(L['create'])}</button></div></div>"""
    script = """const OPS = {
  open: i => { S.open = Number(i); S.picked = []; show('folder'); render(); },
  back: () => { S.open = null; show('main'); render(); },
  pick: (name, el) => { S.picked = S.picked.filter(x => x !== name); if (el.checked) S.picked.push(name); },
  delete: () => { const f = S.folders[S.open]; f.files = f.files.filter(x => !S.picked.includes(x.name)); S.picked = []; render(); },
  newfolder: () => { S.form = {}; $('folder-input').value = ''; show('create'); },
  create: () => { const n = (S.form.folder || '').trim(); if (!n) return; S.folders.push({name: n, files: []}); show('main'); render(); },
};
function render() {
  $('folder-list').innerHTML = S.folders.map((f, i) => `<li><button class="plain grow" data-op="open" data-arg="${i}" data-tg="folder-${i}"
   aria-label="Open folder ${esc(f.name)}">📁 ${esc(f.name)} <span class="muted">(${f.files.length})</span></button></li>`).join('');
  if (S.open === null) return;
  const f = S.folders[S.open]; $('folder-name').textContent = f.name;
  $('file-list').innerHTML = f.files.map((x, j) => `<li><input type="checkbox" data-op="pick" data-arg="${esc(x.name)}" data-tg="file-${j}-check"
   aria-label="Select ${esc(x.name)}"><span class="grow">${esc(x.name)}</span></li>`).join('');
}"""
    gi = rng.randrange(len(folders))
    folder = folders[gi]
    fj = rng.randrange(len(folder["files"]))
    victim = folder["files"][fj]["name"]
    new = f"{rng.choice(WORDS).capitalize()} {rng.choice(['notes', 'scans', 'backup', 'drafts'])}"
    n_files = len(folder["files"])
    goals = [
        Goal(kind="delete", params={"folder": folder["name"], "file": victim},
             texts=[f"Delete the file {victim} in the {folder['name']} folder.", f"Remove {victim} from {folder['name']}.",
                    f"In {folder['name']}, trash {victim}."],
             expect=[{"op": "lacks", "path": f"folders.{gi}.files", "item": {"name": victim}},
                     {"op": "len", "path": f"folders.{gi}.files", "value": n_files - 1}, {"op": "len", "path": "folders", "value": len(folders)}],
             plan=[click(f"folder-{gi}", f"the {folder['name']} folder"), click(f"file-{fj}-check", f"the checkbox of {victim}"),
                   click("delete-selected", f"'{L['del']}'")]),
        Goal(kind="mkdir", params={"folder": new},
             texts=[f"Create a folder named '{new}'.", f"Make a new folder called '{new}'.", f"Add a '{new}' folder."],
             expect=[{"op": "has", "path": "folders", "item": {"name": new}}, {"op": "len", "path": "folders", "value": len(folders) + 1}],
             plan=[click("new-folder", f"'{L['new']}'"), *fill("folder-input", new, "the folder name field"), click("create-folder", f"'{L['create']}'")]),
    ]
    return AppPage(app="files", title=L["title"], body=body, script=script, state=state, style=style), goals


def contacts(rng: random.Random, style: Style) -> tuple[AppPage, list[Goal]]:
    L = {k: rng.choice(v) for k, v in {"add": ["Add contact", "New contact", "+ Contact"], "save": ["Save", "Save contact"],
                                       "del": ["Delete", "Remove"], "title": ["Contacts", "People", "Address book"]}.items()}
    people = list(dict.fromkeys(person(rng) for _ in range(10)))[: rng.randint(4, 7)]
    contacts_ = [{"id": i, "name": p, "phone": f"+1 555 {rng.randint(1000, 9999)}", "group": rng.choice(GROUPS)} for i, p in enumerate(people)]
    state = {"contacts": contacts_, "next": len(contacts_)}
    opts = "".join(f"<option>{g}</option>" for g in GROUPS)
    body = f"""
<div data-screen='main' class='stack'>
 <div><button data-op='add' data-tg='add-contact'>{esc(L['add'])}</button></div><ul data-tg='contact-list'></ul>
</div>
<div data-screen='form' class='panel' hidden>
 <label for='cn'>Name</label><input id='cn' type='text' data-field='name' data-tg='contact-name' aria-label='Name'>
 <label for='cp'>Phone</label><input id='cp' type='text' data-field='phone' data-tg='contact-phone' aria-label='Phone'>
 <label for='cg'>Group</label><select id='cg' data-field='group' data-tg='contact-group' aria-label='Group'>{opts}</select>
 <div class='row'><button data-op='save' data-tg='save-contact'>{esc(L['save'])}</button></div>
</div>"""
    script = f"""const L = {json.dumps(L)};
const OPS = {{
  add: () => {{ S.form = {{group: $('contact-group').options[0].value}}; ['contact-name', 'contact-phone'].forEach(i => $(i).value = '');
    $('contact-group').selectedIndex = 0; show('form'); }},
  save: () => {{ const n = (S.form.name || '').trim(); if (!n) return;
    S.contacts.push({{id: S.next++, name: n, phone: (S.form.phone || '').trim(), group: S.form.group}}); show('main'); render(); }},
  del: id => {{ S.contacts = S.contacts.filter(c => String(c.id) !== id); render(); }},
}};
function render() {{
  $('contact-list').innerHTML = S.contacts.map(c => `<li data-tg="contact-${{c.id}}"><span class="grow"><b>${{esc(c.name)}}</b>
   <span class="muted">${{esc(c.phone)}} · ${{esc(c.group)}}</span></span><button class="plain" data-op="del" data-arg="${{c.id}}"
   data-tg="contact-${{c.id}}-delete" aria-label="${{esc(L.del)}} ${{esc(c.name)}}">${{esc(L.del)}}</button></li>`).join('');
}}"""
    name = person(rng)
    while name in people:
        name = person(rng)
    phone, group = f"+1 555 {rng.randint(1000, 9999)}", rng.choice(GROUPS[1:])
    victim = rng.choice(contacts_)
    n = len(contacts_)
    goals = [
        Goal(kind="add", params={"name": name, "phone": phone, "group": group},
             texts=[f"Add {name} ({phone}) to the {group} group.", f"Create a contact: {name}, phone {phone}, group {group}.",
                    f"Save {name}'s number {phone} under {group}."],
             expect=[{"op": "has", "path": "contacts", "item": {"name": name, "phone": phone, "group": group}},
                     {"op": "len", "path": "contacts", "value": n + 1}],
             plan=[click("add-contact", f"'{L['add']}'"), *fill("contact-name", name, "the Name field"), *fill("contact-phone", phone, "the Phone field"),
                   select("contact-group", group, "the Group list"), click("save-contact", f"'{L['save']}'")]),
        Goal(kind="delete", params={"name": victim["name"]},
             texts=[f"Delete the contact {victim['name']}.", f"Remove {victim['name']} from my contacts.", f"I no longer need {victim['name']}'s entry; delete it."],
             expect=[{"op": "lacks", "path": "contacts", "item": {"name": victim["name"]}}, {"op": "len", "path": "contacts", "value": n - 1}],
             plan=[click(f"contact-{victim['id']}-delete", f"'{L['del']}' next to {victim['name']}")]),
    ]
    return AppPage(app="contacts", title=L["title"], body=body, script=script, state=state, style=style), goals
