// The live map: one level of the floorplan as SVG, students on it, pan and zoom.
//
// Metres map to SVG units one to one with y flipped (north up). Zones are filled by
// kind (containers such as the safe area and buildings only outlined), zones with an
// open alert are outlined in red and hatched. A student is a dot with a circle as wide
// as the fix's uncertainty; the older the fix, the fainter; a silent badge is a hollow
// dot (stale) or a cross (lost), never a confident dot.

import { svg } from "./dom.js";
import { clock, duration } from "./sentences.js";

const CONTAINERS = new Set(["safe_area", "building"]);
const FADE_AFTER_S = 5; // a fix older than this starts to fade
const FADE_OVER_S = 60; // ... down to the floor opacity over this long
const DOT_PX = 5; // a student's dot radius on screen, whatever the zoom

export class LiveMap {
  constructor(container, plan, model) {
    this.container = container;
    this.plan = plan;
    this.model = model;
    this.level = plan.levels.length ? plan.levels[0].id : "";
    this.showReaders = false;
    this.showNames = true;
    this.focusTag = null;
    const b = plan.bounds;
    this.maxY = b.maxY;
    this.home = { x: b.minX - 4, y: 0 - 4, w: b.maxX - b.minX + 8, h: b.maxY - b.minY + 8 };
    this.view = { ...this.home };
    this.root = svg("svg", { class: "map-svg", role: "img", "aria-label": "Floorplan with students" });
    this.root.append(
      svg("defs", {}, svg("pattern", { id: "hatch", width: 2.5, height: 2.5, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
        svg("rect", { width: 2.5, height: 2.5, fill: "#fdecea" }),
        svg("line", { x1: 0, y1: 0, x2: 0, y2: 2.5, stroke: "#c62828", "stroke-width": 0.9 }))),
    );
    this.zoneLayer = svg("g", { class: "zones" });
    this.doorLayer = svg("g", { class: "doors" });
    this.readerLayer = svg("g", { class: "readers" });
    this.labelLayer = svg("g", { class: "labels" });
    this.studentLayer = svg("g", { class: "students" });
    this.root.append(this.zoneLayer, this.doorLayer, this.readerLayer, this.labelLayer, this.studentLayer);
    container.append(this.root);
    this.bindInput();
    this.drawLevel();
  }

  px() {
    // screen pixels per metre (the SVG keeps its aspect: the tighter side decides)
    const c = this.container;
    return Math.min(c.clientWidth / this.view.w, c.clientHeight / this.view.h) || 1;
  }

  sy(y) {
    return this.maxY - y;
  }

  setLevel(level) {
    this.level = level;
    this.drawLevel();
  }

  drawLevel() {
    this.zoneLayer.replaceChildren();
    this.labelLayer.replaceChildren();
    this.doorLayer.replaceChildren();
    this.readerLayer.replaceChildren();
    this.zoneNodes = new Map();
    const zones = this.plan.zonesOn(this.level).sort((a, b) => b.area - a.area);
    for (const z of zones) {
      const d = z.polygons.map((rings) => rings.map((r) => "M" + r.map(([x, y]) => `${x},${this.sy(y)}`).join("L") + "Z").join("")).join("");
      const node = svg("path", { d, class: `zone kind-${z.kind}${CONTAINERS.has(z.kind) ? " container" : ""}`, "fill-rule": "evenodd" },
        svg("title", {}, `${z.name} (${z.kind.replace("_", " ")})`));
      this.zoneNodes.set(z.id, node);
      this.zoneLayer.append(node);
    }
    for (const o of this.plan.openings.filter((o) => o.level === this.level)) {
      const [a, b] = o.points;
      this.doorLayer.append(svg("line", { x1: a[0], y1: this.sy(a[1]), x2: b[0], y2: this.sy(b[1]), class: `door door-${o.kind}` }));
    }
    for (const r of this.plan.readers.filter((r) => r.level === this.level)) {
      this.readerLayer.append(svg("rect", { x: r.x - 0.4, y: this.sy(r.y) - 0.4, width: 0.8, height: 0.8, class: "reader" }, svg("title", {}, `reader ${r.id}`)));
    }
    this.readerLayer.style.display = this.showReaders ? "" : "none";
    this.applyView();
    this.update();
  }

  /** Redraw what changes: alert highlights and the students. */
  update() {
    const alerting = new Set();
    const alertTags = new Set();
    for (const a of this.model.openAlerts()) {
      if (a.zone) alerting.add(a.zone);
      alertTags.add(a.tag);
    }
    for (const [id, node] of this.zoneNodes) node.classList.toggle("alerting", alerting.has(id));
    const now = this.model.now();
    const scale = 1 / this.px();
    this.labels = new Labels(scale);
    this.drawZoneLabels(scale);
    const nodes = [];
    const order = [...this.model.students].sort(([a], [b]) => alertTags.has(b) - alertTags.has(a));
    for (const [tag, s] of order) {
      if (s.level !== this.level || s.x === undefined) continue;
      nodes.push(this.student(tag, s, now, scale, alertTags.has(tag)));
    }
    this.studentLayer.replaceChildren(...nodes);
  }

  /** Zone names at a readable screen size, where they fit inside the zone. */
  drawZoneLabels(scale) {
    const nodes = [];
    for (const z of this.plan.zonesOn(this.level)) {
      if (CONTAINERS.has(z.kind)) continue;
      const size = [11, 9].map((px) => px * scale).find((h) => z.name.length * h * 0.56 <= z.label.w * 0.96);
      if (!size || size > z.label.h * 0.8) continue;
      nodes.push(svg("text", { x: z.label.x, y: this.sy(z.label.y), "font-size": size, class: `zone-label kind-${z.kind}` }, z.name));
    }
    this.labelLayer.replaceChildren(...nodes);
  }

  student(tag, s, now, scale, alerted) {
    const age = now === null ? 0 : Math.max(0, now - s.t);
    const fade = s.silence === "heard" ? 1 - Math.min(1, Math.max(0, age - FADE_AFTER_S) / FADE_OVER_S) * 0.7 : 0.55;
    const name = this.model.label(tag);
    const x = s.x, y = this.sy(s.y);
    const r = DOT_PX * scale;
    const g = svg("g", { class: `student ${s.silence}${alerted ? " alerted" : ""}${tag === this.focusTag ? " focused" : ""}`, opacity: fade.toFixed(2), "data-tag": tag },
      svg("title", {}, `${name}: fix at ${clock(s.t)} (${duration(age)} old), ±${s.u.toFixed(1)} m${s.silence !== "heard" ? `, badge ${s.silence}` : ""}`));
    g.append(svg("circle", { cx: x, cy: y, r: Math.max(s.u, r), class: "uncertainty" }));
    if (s.silence === "lost") {
      g.append(svg("path", { d: `M${x - r},${y - r}L${x + r},${y + r}M${x - r},${y + r}L${x + r},${y - r}`, class: "lost-mark", "stroke-width": 2.2 * scale }));
    } else {
      g.append(svg("circle", { cx: x, cy: y, r, class: "dot", "stroke-width": 1.5 * scale }));
    }
    const label = s.silence === "heard" ? name : `${name} (${s.silence})`;
    const wanted = alerted || tag === this.focusTag;
    const at = this.showNames || wanted ? this.labels.place(x, y, r, label, wanted) : null;
    if (at) {
      g.append(svg("text", { x: at.x, y: at.y, "font-size": 12 * scale, class: "student-label" }, label));
    }
    return g;
  }

  // ---- pan and zoom ---------------------------------------------------------------------

  applyView() {
    const v = this.view;
    this.root.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
  }

  zoom(factor, cx = this.view.x + this.view.w / 2, cy = this.view.y + this.view.h / 2) {
    const v = this.view;
    const w = Math.min(this.home.w * 2, Math.max(8, v.w / factor));
    const k = w / v.w;
    this.view = { x: cx - (cx - v.x) * k, y: cy - (cy - v.y) * k, w, h: v.h * k };
    this.applyView();
    this.update();
  }

  pan(dx, dy) {
    this.view.x += dx * this.view.w;
    this.view.y += dy * this.view.h;
    this.applyView();
  }

  fit() {
    this.view = { ...this.home };
    this.applyView();
    this.update();
  }

  /** Centre on a student (switching level) and mark them until another is chosen. */
  show(tag) {
    const s = this.model.students.get(tag);
    this.focusTag = tag;
    if (!s || s.x === undefined) return false;
    if (s.level !== this.level) {
      this.level = s.level;
      this.container.dispatchEvent(new CustomEvent("levelchange", { detail: s.level }));
      this.drawLevel();
    }
    const w = Math.min(this.view.w, 60);
    const h = this.view.h * (w / this.view.w);
    this.view = { x: s.x - w / 2, y: this.sy(s.y) - h / 2, w, h };
    this.applyView();
    this.update();
    return true;
  }

  bindInput() {
    const c = this.container;
    c.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const rect = c.getBoundingClientRect();
      const cx = this.view.x + ((ev.clientX - rect.left) / rect.width) * this.view.w;
      const cy = this.view.y + ((ev.clientY - rect.top) / rect.height) * this.view.h;
      this.zoom(ev.deltaY < 0 ? 1.2 : 1 / 1.2, cx, cy);
    }, { passive: false });
    let drag = null;
    c.addEventListener("pointerdown", (ev) => {
      drag = { x: ev.clientX, y: ev.clientY };
      c.setPointerCapture(ev.pointerId);
    });
    c.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      const k = this.view.w / c.clientWidth;
      this.view.x -= (ev.clientX - drag.x) * k;
      this.view.y -= (ev.clientY - drag.y) * k;
      drag = { x: ev.clientX, y: ev.clientY };
      this.applyView();
    });
    c.addEventListener("pointerup", () => (drag = null));
    c.addEventListener("keydown", (ev) => {
      const moves = { ArrowLeft: [-0.1, 0], ArrowRight: [0.1, 0], ArrowUp: [0, -0.1], ArrowDown: [0, 0.1] };
      if (moves[ev.key]) this.pan(...moves[ev.key]);
      else if (ev.key === "+" || ev.key === "=") this.zoom(1.25);
      else if (ev.key === "-") this.zoom(1 / 1.25);
      else if (ev.key === "0") this.fit();
      else return;
      ev.preventDefault();
    });
    new ResizeObserver(() => this.update()).observe(c);
  }
}

// Student names placed without overlapping: a name that would cover another is left
// out (the dot keeps it as a tooltip); names of students with an alert always go first.
class Labels {
  constructor(scale) {
    this.scale = scale;
    this.boxes = [];
  }

  /** Where to write `text` beside a dot at (x, y) of radius r, or null when no room. */
  place(x, y, r, text, always) {
    const h = 12 * this.scale;
    const w = text.length * h * 0.58;
    const spots = [[x + r * 1.4, y - r * 1.2], [x + r * 1.4, y + h], [x - r * 1.4 - w, y - r * 1.2], [x - r * 1.4 - w, y + h]];
    const boxes = spots.map(([lx, ly]) => ({ x: lx, y: ly, x0: lx, x1: lx + w, y0: ly - h, y1: ly + h * 0.25 }));
    const free = boxes.find((box) => !this.boxes.some((b) => box.x0 < b.x1 && b.x0 < box.x1 && box.y0 < b.y1 && b.y0 < box.y1));
    const chosen = free || (always ? boxes[0] : null);
    if (chosen) this.boxes.push(chosen);
    return chosen;
  }
}
