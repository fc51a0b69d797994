// The alerts list and the critical strip.
//
// Each alert reads as sentences: who and which rule, where the student is now (from the
// zone state, not the rule's zone: a hall-pass overrun names the classroom left, the
// student is in the toilets), since when and how sure, then the evidence and who did
// what. Open critical alerts are repeated in a strip above everything, which stays until
// a person resolves them. Acknowledge and resolve take a note; every other open
// dashboard sees the change as soon as the server sends it.

import { askNote, el, fill } from "./dom.js";
import { SEVERITY, clock, evidence, headline, lifecycle, whereNow } from "./sentences.js";

export class AlertsView {
  constructor({ panel, strip, count, model, plan, feed, map }) {
    Object.assign(this, { panel, strip, count, model, plan, feed, map });
    this.busy = new Set(); // alert ids with a form open: not redrawn under the person's hands
  }

  render() {
    const alerts = this.model.sortedAlerts();
    const open = alerts.filter((a) => a.state !== "resolved");
    this.count.textContent = open.length ? `(${open.length} open)` : "(none open)";
    if (this.busy.size) return; // redrawn when the form closes
    const focus = focused([this.panel, this.strip]);
    fill(this.panel, 
      el("h2", { class: "visually-hidden", text: "Alerts" }),
      open.length ? null : el("p", { class: "empty", text: "No open alerts." }),
      el("ol", { class: "alert-list", "aria-label": "Alerts, most urgent first" }, alerts.map((a) => el("li", {}, this.card(a, false)))),
    );
    this.renderStrip(open.filter((a) => a.severity === "critical"));
    if (focus) refocus(focus);
  }

  renderStrip(critical) {
    this.strip.hidden = critical.length === 0;
    fill(this.strip, 
      el("h2", { class: "strip-title" }, `${SEVERITY.critical.shape} ${critical.length} critical alert${critical.length === 1 ? "" : "s"} open — stays here until resolved`),
      critical.map((a) => this.card(a, true)),
    );
  }

  card(alert, compact) {
    const sev = SEVERITY[alert.severity] || SEVERITY.info;
    const h = headline(this.model, this.plan, alert);
    const where = whereNow(this.model, this.plan, alert.tag);
    const body = el(
      "article",
      { class: `alert sev-${alert.severity} state-${alert.state}`, "data-alert": alert.id, "aria-label": `${sev.text} alert: ${h.who}` },
      el("div", { class: "alert-head" },
        el("span", { class: `sev-badge sev-${alert.severity}` }, el("span", { "aria-hidden": "true" }, sev.shape), ` ${sev.text}`),
        el("span", { class: `state-badge state-${alert.state}`, text: alert.state }),
        el("span", { class: "raised", text: clock(alert.raised_at ?? alert.t) })),
      el("p", { class: "alert-title" }, el("strong", { text: h.who }), ` — ${h.what}`, el("span", { class: "rule" }, `${h.about} (rule ${h.rule})`)),
      where ? el("p", { class: `where${where.silent ? " silent" : ""}` }, el("span", { class: "label", text: "Now: " }), where.text) : null,
      compact ? null : el("p", { class: "evidence", text: evidence(this.plan, alert) }),
      el("p", { class: "lifecycle", text: lifecycle(this.model, alert) }),
      this.actions(alert),
    );
    return body;
  }

  actions(alert) {
    const may = this.model.me && this.model.me.may;
    const row = el("div", { class: "row actions" });
    if (where(this.model, alert.tag)) {
      row.append(el("button", { type: "button", class: "quiet", text: "Show on map", onclick: () => this.map.show(alert.tag) }));
    }
    if (may && may.acknowledge && alert.state === "raised") {
      row.append(el("button", { type: "button", class: "primary", text: "Acknowledge…", onclick: (ev) => this.act(ev, alert, "ack") }));
    }
    if (may && may.acknowledge && alert.state !== "resolved") {
      row.append(el("button", { type: "button", text: "Resolve…", onclick: (ev) => this.act(ev, alert, "resolve") }));
    }
    return row;
  }

  async act(ev, alert, action) {
    const article = ev.target.closest("article");
    this.busy.add(alert.id);
    const note = await askNote(article, {
      label: action === "ack" ? "Note (what you are doing about it)" : "How was it resolved?",
      action: action === "ack" ? "Acknowledge" : "Resolve",
      required: action === "resolve",
      placeholder: action === "ack" ? "e.g. on my way" : "e.g. student back in class, door locked",
    });
    if (note !== null) {
      try {
        await this.feed.command({ type: action, alert: alert.id, note });
      } catch (err) {
        article.append(el("p", { class: "error", role: "alert", text: `Not done: ${err.message}` }));
        await new Promise((r) => setTimeout(r, 2500));
      }
    }
    this.busy.delete(alert.id);
    this.render();
  }
}

function where(model, tag) {
  const s = model.students.get(tag);
  return s && s.x !== undefined;
}

// Redrawing must not take the keyboard focus away: remember which button of which alert
// had it, and give it back.
function focused(containers) {
  const active = document.activeElement;
  const box = containers.find((c) => c.contains(active));
  const card = active && active.closest ? active.closest("[data-alert]") : null;
  if (!box || !card) return null;
  return { box, alert: card.dataset.alert, text: active.textContent };
}

function refocus({ box, alert, text }) {
  const card = box.querySelector(`[data-alert="${CSS.escape(alert)}"]`);
  const button = card && [...card.querySelectorAll("button")].find((b) => b.textContent === text);
  if (button) button.focus();
}
