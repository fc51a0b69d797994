// The evacuation panel: start one (live, drill or test), follow the roll call, mark a
// student safe by hand with a reason, end it.
//
// The roll call is read from GET /api/rollcall every two seconds (and at once when a
// record says an evacuation started or ended). It never says "all accounted" while a
// badge is silent: the server's `all_accounted` is false while anyone is unknown, and
// the panel counts unknown and unaccounted students apart.

import { askNote, el, fill } from "./dom.js";
import { clock, duration } from "./sentences.js";

const MODES = [
  ["live", "Live evacuation"],
  ["drill", "Drill"],
  ["test", "System test (no alerts)"],
];

export class EvacuationView {
  constructor({ panel, tab, model, plan, feed, load }) {
    Object.assign(this, { panel, tab, model, plan, feed, load });
    this.busy = false;
    this.message = "";
  }

  async refresh() {
    try {
      const body = await this.load();
      this.model.evacuation = body.evacuation;
    } catch {
      return; // the banner already says the server is unreachable
    }
    this.render();
  }

  render() {
    const report = this.model.evacuation;
    this.tab.classList.toggle("evacuating", !!report);
    this.tab.textContent = report ? `Evacuation: ${report.mode.toUpperCase()}` : "Evacuation";
    if (this.busy) return;
    const may = (this.model.me && this.model.me.may) || {};
    fill(this.panel, 
      el("h2", { class: "visually-hidden", text: "Evacuation" }),
      report ? this.rollcall(report, may) : this.idle(may),
      this.message ? el("p", { class: "error", role: "alert", text: this.message }) : null,
    );
  }

  idle(may) {
    if (!may.evacuate) {
      return el("p", { class: "empty", text: "No evacuation is running. Safety staff start one from here." });
    }
    const select = el("select", { id: "evac-mode", "aria-label": "Kind of evacuation" },
      MODES.map(([value, text]) => el("option", { value, text })));
    return el("div", { class: "evac-start" },
      el("p", { text: "No evacuation is running." }),
      el("label", { for: "evac-mode", text: "Kind" }), select,
      el("button", { type: "button", class: "danger", text: "Start evacuation…", onclick: (ev) => this.start(ev, select.value) }));
  }

  rollcall(r, may) {
    const missing = r.unaccounted + r.unknown;
    const verdict = r.all_accounted
      ? el("p", { class: "verdict ok" }, "✔ ", `All ${r.expected} accounted for (${r.marked_safe} marked safe by hand).`)
      : el("p", { class: "verdict not-ok" }, "✖ ", `${missing} not accounted for: ${r.unaccounted} unaccounted, ${r.unknown} unknown (badge silent). Keep looking.`);
    const musters = Object.entries(r.per_muster_point).map(([id, n]) => el("li", {}, `${this.plan.zoneName(id)}: `, el("strong", { text: String(n) })));
    const rows = r.missing.map((m) => this.missingRow(m, r.t, may));
    return el("div", { class: "rollcall" },
      el("p", { class: `evac-mode mode-${r.mode}` }, `${r.mode.toUpperCase()} evacuation since ${clock(r.started_at)} (${duration(r.t - r.started_at)})`),
      verdict,
      el("dl", { class: "counts" },
        [["Expected", r.expected], ["Accounted", r.accounted], ["Marked safe", r.marked_safe],
          ["Unaccounted", r.unaccounted], ["Unknown", r.unknown]].flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })])),
      el("h3", { text: "At muster points" }), el("ul", { class: "musters" }, musters),
      el("h3", { text: `Not accounted for (${r.missing.length} you can see)` }),
      rows.length ? el("table", { class: "missing" },
        el("thead", {}, el("tr", {}, ["Student", "Status", "Last known zone", "Last zone change", ""].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows)) : el("p", { class: "empty", text: "Nobody you can see is missing." }),
      may.evacuate ? el("button", { type: "button", class: "danger", text: "End evacuation…", onclick: (ev) => this.end(ev) }) : null);
  }

  missingRow(m, t, may) {
    const seen = m.last_seen == null ? "never" : `${duration(t - m.last_seen)} ago`;
    const sure = m.uncertainty_m == null ? "" : ` ±${m.uncertainty_m.toFixed(1)} m`;
    const status = m.status === "unknown" ? "? unknown (badge silent)" : "✖ unaccounted";
    return el("tr", { class: `status-${m.status}` },
      el("td", {}, el("strong", { text: m.label }), ` ${m.group}`),
      el("td", { text: status }),
      el("td", { text: m.last_zone ? this.plan.zoneName(m.last_zone) : "—" }),
      el("td", { text: `${seen}${sure}` }),
      el("td", {}, may.mark_safe ? el("button", { type: "button", text: "Mark safe…", onclick: (ev) => this.markSafe(ev, m) }) : null));
  }

  async withNote(ev, options, send) {
    this.busy = true;
    const note = await askNote(ev.target.closest("div, td, table") || this.panel, options);
    if (note !== null) {
      try {
        await send(note);
        this.message = "";
      } catch (err) {
        this.message = `Not done: ${err.message}`;
      }
    }
    this.busy = false;
    await this.refresh();
  }

  start(ev, mode) {
    return this.withNote(ev, { label: `Start a ${mode} evacuation: note (optional)`, action: "Start now" },
      (note) => this.feed.command({ type: "evacuate", mode, note }));
  }

  end(ev) {
    return this.withNote(ev, { label: "End the evacuation: why (e.g. all clear from the fire service)", action: "End evacuation", required: true },
      (note) => this.feed.command({ type: "end_evacuation", note }));
  }

  markSafe(ev, m) {
    return this.withNote(ev, { label: `Mark ${m.label} safe: how do you know?`, action: "Mark safe", required: true, placeholder: "e.g. seen at the gate by Mr Jones" },
      (note) => this.feed.command({ type: "mark_safe", tag: m.tag, note }));
  }
}
