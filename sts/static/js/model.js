// What the page knows: the person, the students they may see, where each is, the alerts.
//
// A snapshot replaces it; feed messages change it. Times are the data's own clock
// (epoch seconds from the readings), so ages stay right when a recording or the demo
// runs faster than real time.

const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };
const STATE_RANK = { raised: 0, acknowledged: 1, resolved: 2 };

export class Model {
  constructor() {
    this.me = null;
    this.people = new Map(); // tag -> {label, group}
    this.students = new Map(); // tag -> {level, x, y, u, t, zones: Map(id -> since), silence}
    this.alerts = new Map(); // id -> alert record
    this.notes = new Map(); // alert id -> [{kind, actor, reason, t}]
    this.evacuation = null;
    this.dataT = null; // newest data time seen
    this.dataWall = 0; // performance.now() when it was seen
    this.lastMessageWall = 0; // Date.now() of the last message of any kind
    this.lastPositionsWall = 0; // Date.now() of the last positions frame
    this.listeners = new Set();
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  changed(what) {
    for (const fn of this.listeners) fn(what);
  }

  /** The data clock now: the newest data time plus the wall time since it arrived. */
  now() {
    if (this.dataT === null) return null;
    return this.dataT + (performance.now() - this.dataWall) / 1000;
  }

  seeData(t) {
    if (t !== null && (this.dataT === null || t > this.dataT)) {
      this.dataT = t;
      this.dataWall = performance.now();
    }
  }

  applySnapshot(snap) {
    this.me = snap;
    this.people = new Map(snap.people.map((p) => [p.tag, p]));
    for (const s of snap.students) {
      const known = this.students.get(s.tag);
      if (known && known.t > s.t) continue; // the page saw a newer fix than the server holds
      this.students.set(s.tag, {
        level: s.level,
        x: s.x,
        y: s.y,
        u: s.uncertainty_m,
        t: s.t,
        zones: new Map(s.zones.map((z) => [z.id, z.since])),
        silence: s.silence,
      });
    }
    for (const tag of [...this.students.keys()]) {
      if (!this.people.has(tag)) this.students.delete(tag);
    }
    this.alerts = new Map(snap.alerts.map((a) => [a.id, a]));
    this.evacuation = snap.evacuation;
    this.seeData(snap.now);
    this.lastMessageWall = Date.now();
    this.changed("all");
  }

  applyMessage(m) {
    this.lastMessageWall = Date.now();
    if (m.type === "positions") this.positions(m);
    else if (m.type === "event") this.event(m.event);
    else if (m.type === "alert") {
      this.alerts.set(m.alert.id, m.alert);
      this.seeData(m.alert.t);
      this.changed("alerts");
    } else if (m.type === "record") this.record(m.record);
    else if (m.type === "heartbeat") this.changed("heartbeat");
  }

  positions(m) {
    let newest = null;
    for (let i = 0; i < m.tags.length; i++) {
      const tag = m.tags[i];
      const s = this.students.get(tag) || { zones: new Map() };
      Object.assign(s, {
        level: m.levels[i],
        x: m.x[i],
        y: m.y[i],
        u: m.uncertainty_m[i],
        t: m.t[i],
        silence: "heard",
      });
      this.students.set(tag, s);
      newest = newest === null ? m.t[i] : Math.max(newest, m.t[i]);
    }
    this.seeData(newest);
    this.lastPositionsWall = Date.now();
    this.changed("positions");
  }

  event(e) {
    const s = this.students.get(e.tag) || { zones: new Map(), silence: "heard" };
    if (e.kind === "enter" || e.kind === "inside") s.zones.set(e.zone, e.t);
    else if (e.kind === "exit") s.zones.delete(e.zone);
    else if (e.kind === "outside") s.zones.clear();
    else if (e.kind === "stale" || e.kind === "lost") s.silence = e.kind;
    if (e.evidence && (s.t === undefined || e.t - e.evidence.age_s >= s.t)) {
      Object.assign(s, {
        level: e.evidence.level || e.level,
        x: e.evidence.x,
        y: e.evidence.y,
        u: e.evidence.uncertainty_m,
        t: e.t - e.evidence.age_s,
      });
    }
    this.students.set(e.tag, s);
    this.seeData(e.t);
    this.changed("event");
  }

  record(r) {
    if (r.kind === "alert_acknowledged" || r.kind === "alert_resolved") {
      const list = this.notes.get(r.subject) || [];
      list.push(r);
      this.notes.set(r.subject, list);
      this.changed("alerts");
    } else if (r.kind.startsWith("evacuation") || r.kind === "student_marked_safe") {
      this.changed("evacuation-record");
    }
  }

  /** Alerts in the order a person should read them: open before closed, worst, newest. */
  sortedAlerts() {
    return [...this.alerts.values()].sort(
      (a, b) =>
        STATE_RANK[a.state] - STATE_RANK[b.state] ||
        SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
        (b.raised_at || b.t) - (a.raised_at || a.t) ||
        a.id.localeCompare(b.id),
    );
  }

  openAlerts() {
    return this.sortedAlerts().filter((a) => a.state !== "resolved");
  }

  label(tag) {
    const p = this.people.get(tag);
    return p ? p.label : tag;
  }

  group(tag) {
    const p = this.people.get(tag);
    return p ? p.group : "";
  }
}
