"""The viewer's page: plain HTML, CSS and JavaScript, no external resources (opens from disk)."""

PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#222}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 16px;z-index:1}
header label{margin-right:14px} select{font:inherit}
main{padding:12px 16px} .traj{background:#fff;border:1px solid #ddd;border-radius:6px;margin:0 0 14px;padding:10px}
.traj h2{font-size:15px;margin:0 0 6px} .ok{color:#17803d} .bad{color:#b42318} .muted{color:#777}
.msg{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12.5px;background:#f3f4f6;border-radius:4px;padding:6px;margin:4px 0}
.turn{border-left:3px solid #9aa4b2;padding:4px 0 4px 10px;margin:8px 0}
.turn.invalid{border-left-color:#b42318} .call{font-family:ui-monospace,monospace;color:#1d4ed8}
.credit{display:grid;grid-template-columns:140px 260px 70px;gap:2px 8px;align-items:center;margin:4px 0}
.bar{height:12px;position:relative;background:#eef0f3} .bar span{position:absolute;top:0;height:12px}
.pos{background:#22a35a} .neg{background:#d9534f} .val{font-family:ui-monospace,monospace;font-size:12px;text-align:right}
img{max-width:480px;border:1px solid #ccc}
</style></head><body>
<header><b>turngym view</b> <span class="muted" id="run"></span><br>
<label>task <select id="task"></select></label>
<label>outcome <select id="outcome"><option value="all">all</option><option value="success">success</option>
<option value="fail">fail</option><option value="failed">infrastructure failure</option></select></label>
<label>method <select id="method"></select></label> <span id="count" class="muted"></span></header>
<main id="list"></main>
<script type="application/json" id="data">__DATA__</script>
<script>
const DATA = JSON.parse(document.getElementById("data").textContent);
const $ = (id) => document.getElementById(id);
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
function fill(select, values) { for (const v of values) { const o = el("option", "", v); o.value = v; select.appendChild(o); } }
$("run").textContent = DATA.run;
fill($("task"), ["all", ...[...new Set(DATA.trajectories.map(t => t.task))].sort()]);
fill($("method"), ["all", ...DATA.methods]);
const scale = {};  // per method: the largest |value| on the page, so bars compare within a method
for (const t of DATA.trajectories) for (const [m, row] of Object.entries(t.credit)) for (const v of row) scale[m] = Math.max(scale[m] || 0, Math.abs(v));
for (const part of location.hash.slice(1).split("&")) {
  const [k, v] = part.split("=").map(decodeURIComponent);
  if ($(k) && v !== undefined && [...$(k).options].some(o => o.value === v)) $(k).value = v;
}
function parts(box, message) {
  const d = el("div", "msg"); d.appendChild(el("b", "", message.role + ": "));
  for (const p of message.parts) {
    if (p.image !== undefined) { const img = el("img"); img.src = p.image; img.alt = "image"; d.appendChild(img); }
    else d.appendChild(document.createTextNode(p.text));
  }
  box.appendChild(d);
}
function creditBars(box, t, turnIndex, method) {
  const grid = el("div", "credit");
  for (const m of DATA.methods) {
    if (method !== "all" && m !== method) continue;
    const row = t.credit[m]; if (!row) continue;
    const v = row[turnIndex], w = scale[m] ? Math.abs(v) / scale[m] * 50 : 0;
    const bar = el("div", "bar"), fillEl = el("span", v >= 0 ? "pos" : "neg");
    fillEl.style.left = (v >= 0 ? 50 : 50 - w) + "%"; fillEl.style.width = w + "%"; bar.appendChild(fillEl);
    grid.appendChild(el("div", "", m)); grid.appendChild(bar);
    grid.appendChild(el("div", "val", (v >= 0 ? "+" : "") + v.toFixed(3)));
  }
  box.appendChild(grid);
}
function render() {
  const task = $("task").value, outcome = $("outcome").value, method = $("method").value;
  const list = $("list"); list.replaceChildren();
  let shown = 0;
  for (const t of DATA.trajectories) {
    if (task !== "all" && t.task !== task) continue;
    if (outcome === "success" && !(t.success && !t.failed)) continue;
    if (outcome === "fail" && (t.success || t.failed)) continue;
    if (outcome === "failed" && !t.failed) continue;
    if (method !== "all" && !t.credit[method]) continue;
    shown++;
    const box = el("section", "traj"); box.dataset.task = t.task; box.dataset.sample = t.sample;
    const h = el("h2"); h.appendChild(el("span", "", `${t.task} · sample ${t.sample} · `));
    h.appendChild(el("span", t.failed ? "bad" : (t.success ? "ok" : "bad"),
      t.failed ? `failed: ${t.error || ""}` : `outcome ${t.outcome} (${t.success ? "success" : "no success"})`));
    h.appendChild(el("span", "muted", ` · ${t.turns.length} turns · ${t.finish || ""} · group of ${t.group_size} · ${t.source}`));
    box.appendChild(h);
    for (const m of t.messages) parts(box, m);
    t.turns.forEach((turn, i) => {
      const tb = el("div", "turn" + (turn.valid ? "" : " invalid"));
      tb.appendChild(el("div", "", `turn ${i + 1} · reward ${turn.reward}` + (turn.valid ? "" : " · invalid action")));
      parts(tb, {role: "assistant", parts: [{text: turn.action}]});
      for (const c of turn.calls) tb.appendChild(el("div", "call", "→ " + c));
      for (const o of turn.observation) parts(tb, o);
      creditBars(tb, t, i, method);
      box.appendChild(tb);
    });
    list.appendChild(box);
  }
  $("count").textContent = `${shown} of ${DATA.trajectories.length} trajectories`;
}
for (const id of ["task", "outcome", "method"]) $(id).addEventListener("change", render);
render();
</script></body></html>
"""
