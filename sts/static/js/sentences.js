// Alerts and whereabouts as sentences a person can act on, and the page's time formats.

export const SEVERITY = {
  critical: { text: "Critical", shape: "◆" },
  warning: { text: "Warning", shape: "▲" },
  info: { text: "Info", shape: "●" },
};

let zone = "UTC";

export function setTimezone(name) {
  zone = name || "UTC";
}

const clockFormats = new Map();

/** Epoch seconds as school-local HH:MM:SS (or HH:MM). */
export function clock(t, seconds = true) {
  if (t === null || t === undefined) return "—";
  const key = `${zone}|${seconds}`;
  if (!clockFormats.has(key)) {
    clockFormats.set(
      key,
      new Intl.DateTimeFormat("en-GB", {
        timeZone: zone,
        hour: "2-digit",
        minute: "2-digit",
        second: seconds ? "2-digit" : undefined,
        hour12: false,
      }),
    );
  }
  return clockFormats.get(key).format(new Date(t * 1000));
}

/** A duration in words: "4 s", "3 min", "1 h 5 min". */
export function duration(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "—";
  s = Math.max(0, s);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * Where a student is now, from the zone state the server reported and the last fix:
 * {text, zone, level, since, sure} or null when the role may not see positions.
 */
export function whereNow(model, plan, tag) {
  const s = model.students.get(tag);
  if (!model.me || !model.me.may.positions) return null;
  if (!s || s.t === undefined) return { text: "no fix yet since the badge was last seen", zone: null };
  const now = model.now() ?? s.t;
  const age = now - s.t;
  const sure = `±${s.u.toFixed(1)} m, fix ${duration(age)} old`;
  const level = plan.levelName(s.level);
  const inner = plan.innermost(s.zones.keys());
  if (s.silence !== "heard") {
    const where = inner ? `${inner.name}, ${level}` : `outside every zone, ${level}`;
    return {
      text: `badge silent (${s.silence}) since ${clock(s.t)}: last seen in ${where} (${sure})`,
      zone: inner ? inner.id : null,
      silent: true,
    };
  }
  if (!inner) return { text: `outside every zone, on ${level} (${sure})`, zone: null };
  const since = s.zones.get(inner.id);
  return {
    text: `in ${inner.name}, ${level}, since ${clock(since)} (${sure})`,
    zone: inner.id,
  };
}

function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** The headline: who, which rule, about which zone. */
export function headline(model, plan, alert) {
  const group = model.group(alert.tag);
  const who = `${model.label(alert.tag)}${group ? ` (${group})` : ""}`;
  const what = capitalise(alert.message || alert.rule);
  const about = alert.zone ? ` · ${plan.zoneName(alert.zone)}` : "";
  return { who, what, about, rule: alert.rule };
}

/** The evidence the alert was raised or last updated on. */
export function evidence(plan, alert) {
  const e = alert.evidence;
  if (!e) return "No position evidence.";
  const at = e.x !== undefined ? `(${e.x.toFixed(1)}, ${e.y.toFixed(1)}) m ` : "";
  const times = alert.occurrences > 1 ? ` · triggered ${alert.occurrences} times` : "";
  return `Evidence at ${clock(alert.t)}: ${at}on ${plan.levelName(e.level)}, ±${e.uncertainty_m.toFixed(1)} m, fix ${duration(e.age_s)} old${times}.`;
}

/** Raised / acknowledged / resolved, by whom and when, with the notes people left. */
export function lifecycle(model, alert) {
  const parts = [`Raised ${clock(alert.raised_at ?? alert.t)}`];
  const notes = model.notes.get(alert.id) || [];
  const ackNote = notes.find((n) => n.kind === "alert_acknowledged");
  if (alert.acknowledged_by) {
    const note = ackNote && ackNote.reason ? ` — “${ackNote.reason}”` : "";
    parts.push(`acknowledged by ${alert.acknowledged_by} at ${clock(alert.acknowledged_at)}${note}`);
  }
  if (alert.state === "resolved") {
    const why = alert.resolution ? ` — “${alert.resolution}”` : "";
    parts.push(`resolved by ${alert.resolved_by || "?"} at ${clock(alert.resolved_at)}${why}`);
  }
  return parts.join("; ") + ".";
}
