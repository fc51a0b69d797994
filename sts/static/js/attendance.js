// Attendance for the period running now, per group, with what each mark rests on.
// Marks are provisional while the lesson runs and say so (sts/server/attendance_now.py).

import { el, fill } from "./dom.js";
import { clock } from "./sentences.js";

const MARKS = {
  present: "✔ present",
  late: "◐ late",
  "not arrived yet": "… not arrived yet",
  "missing so far": "✖ missing so far",
  unknown: "? unknown (badge silent)",
};

export class AttendanceView {
  constructor({ panel, plan, load }) {
    Object.assign(this, { panel, plan, load });
  }

  async refresh() {
    let body;
    try {
      body = await this.load();
    } catch {
      return;
    }
    this.render(body);
  }

  render(body) {
    const lessons = body.lessons.map((lesson) => this.lesson(lesson));
    fill(this.panel, 
      el("h2", { class: "visually-hidden", text: "Attendance" }),
      el("p", { class: "note", text: `As of ${clock(body.now)}. Marks are provisional until the lesson ends; a silent badge is “unknown”, never “absent”.` }),
      lessons.length ? lessons : el("p", { class: "empty", text: "No lesson is running now for the groups you can see." }),
    );
  }

  lesson(l) {
    const counts = {};
    for (const m of l.marks) counts[m.mark] = (counts[m.mark] || 0) + 1;
    const summary = Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ");
    const title = `${l.group} · ${l.period_name || l.period}${l.subject ? ` ${l.subject}` : ""} · ${this.plan.zoneName(l.room)} · ${clock(l.start, false)}–${clock(l.end, false)}`;
    return el("section", { class: "lesson" },
      el("h3", { text: title }),
      el("p", { class: "summary", text: summary }),
      el("table", { class: "marks" },
        el("thead", {}, el("tr", {}, ["Student", "Mark", "Evidence"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, l.marks.map((m) => el("tr", { class: `mark-${m.mark.replace(/ /g, "-")}` },
          el("td", { text: m.label }),
          el("td", { text: MARKS[m.mark] || m.mark }),
          el("td", { text: this.evidence(m) }))))));
  }

  evidence(m) {
    const parts = [];
    if (m.first_arrival != null) parts.push(`arrived ${clock(m.first_arrival)}`);
    if (m.minutes_in_room) parts.push(`${m.minutes_in_room.toFixed(0)} min in the room`);
    parts.push(m.in_room_now ? "in the room now" : "not in the room now");
    if (m.last_exit != null && !m.in_room_now) parts.push(`left ${clock(m.last_exit)}`);
    if (m.badge_silent_at != null) parts.push(`badge silent since ${clock(m.badge_silent_at)}`);
    return parts.join(" · ");
  }
}
