// The dashboard: sign-in, the live feed, and the views on one model.

import { AlertsView } from "./alerts.js";
import { AttendanceView } from "./attendance.js";
import { el } from "./dom.js";
import { EvacuationView } from "./evacuation.js";
import { Feed } from "./feed.js";
import { FeedbackForm } from "./feedback.js";
import { Floorplan } from "./floorplan.js";
import { LiveMap } from "./map.js";
import { Model } from "./model.js";
import { clock, duration, setTimezone } from "./sentences.js";
import * as session from "./session.js";

const STALE_S = 5; // positions older than this (wall time) put the banner up
const $ = (id) => document.getElementById(id);

let plan = null;
let model = null;
let feed = null;
let views = null;
let link = { state: "connecting" };
const timers = [];

async function main() {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut(""));
  bindTabs();
  new FeedbackForm({ form: $("feedback-form"), from: $("feedback-from"), text: $("feedback-text"), status: $("feedback-status"), feed: () => feed });
  try {
    plan = new Floorplan(await session.floorplan());
  } catch (err) {
    $("signin-error").textContent = `The server cannot be reached: ${err.message}. Reload when it is back.`;
    return;
  }
  const token = session.storedToken();
  if (token) start(token);
}

async function signIn(ev) {
  ev.preventDefault();
  const token = $("token").value.trim();
  $("signin-error").textContent = "";
  try {
    await session.snapshot(token); // checks the token before the page changes
  } catch (err) {
    $("signin-error").textContent = `Not signed in: ${err.message}.`;
    return;
  }
  $("token").value = "";
  session.storeToken(token);
  start(token);
}

function signOut(why) {
  if (feed) feed.stop();
  feed = null;
  session.forgetToken();
  timers.splice(0).forEach(clearInterval);
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = why ? `Signed out: ${why}.` : "";
  $("critical").hidden = true;
  $("map").replaceChildren();
  views = null;
  $("token").focus();
}

function start(token) {
  model = new Model();
  $("signin").hidden = true;
  $("app").hidden = false;
  feed = new Feed(token, {
    onSnapshot: (snap) => {
      setTimezone(snap.timezone);
      model.me = snap; // the views read what the person may do
      if (!views) views = buildViews(token);
      model.applySnapshot(snap);
      showPerson(snap);
    },
    onMessage: (m) => {
      if (m.type === "lost" && feed.ws) feed.ws.close(4000, "resync"); // start again from a snapshot
      else model.applyMessage(m);
    },
    onLink: (state) => {
      link = state;
      status();
    },
    onRefused: (why) => signOut(why),
  });
  feed.start();
  timers.push(setInterval(status, 500));
}

function buildViews(token) {
  const map = new LiveMap($("map"), plan, model);
  const alerts = new AlertsView({ panel: $("alerts-panel"), strip: $("critical"), count: $("alert-count"), model, plan, feed, map });
  const evacuation = new EvacuationView({ panel: $("evacuation-panel"), tab: $("tab-evacuation"), model, plan, feed, load: () => session.rollcall(token) });
  const attendance = new AttendanceView({ panel: $("attendance-panel"), plan, load: () => session.attendance(token) });
  buildLevels(map);
  $("map").addEventListener("levelchange", () => buildLevels(map));
  $("zoom-in").onclick = () => map.zoom(1.25);
  $("zoom-out").onclick = () => map.zoom(1 / 1.25);
  $("zoom-reset").onclick = () => map.fit();
  $("show-readers").onchange = (ev) => { map.showReaders = ev.target.checked; map.drawLevel(); };
  $("show-names").onchange = (ev) => { map.showNames = ev.target.checked; map.update(); };

  let frame = 0;
  model.onChange((what) => {
    if (what === "evacuation-record") evacuation.refresh();
    if (what === "all" || what === "alerts") alerts.render();
    if (what === "all") { evacuation.render(); buildLevels(map); }
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; map.update(); });
  });
  timers.push(setInterval(() => { alerts.render(); buildLevels(map); }, 3000)); // ages move on
  timers.push(setInterval(() => evacuation.refresh(), 2000));
  timers.push(setInterval(() => { if (!$("attendance-panel").hidden) attendance.refresh(); }, 15000));
  $("tab-attendance").addEventListener("click", () => attendance.refresh());
  return { map, alerts, evacuation, attendance };
}

function buildLevels(map) {
  const counts = {};
  for (const s of model.students.values()) counts[s.level] = (counts[s.level] || 0) + 1;
  $("levels").replaceChildren(...plan.levels.map((level) => el("button", {
    type: "button",
    "aria-pressed": String(level.id === map.level),
    onclick: () => { map.setLevel(level.id); buildLevels(map); },
  }, `${level.name || level.id}`, el("span", { class: "count", text: ` ${counts[level.id] || 0}` }))));
}

function showPerson(snap) {
  $("tab-feedback").hidden = !snap.may.feedback;
  $("site-name").textContent = snap.site;
  $("who-name").textContent = snap.name;
  $("who-role").textContent = snap.groups.length ? `${snap.role}: ${snap.groups.join(", ")}` : snap.role;
  document.title = `STS · ${snap.site}`;
}

/** The header's clocks and the honesty banner, twice a second. */
function status() {
  if (!model) return;
  const now = model.now();
  $("data-clock").textContent = clock(now);
  const positions = model.me && model.me.may.positions;
  const lastWall = positions ? model.lastPositionsWall : model.lastMessageWall;
  const age = lastWall ? (Date.now() - lastWall) / 1000 : null;
  $("last-update").textContent = model.dataT === null ? "never" : clock(model.dataT);
  $("last-update-age").textContent = age === null ? "" : `(${duration(age)} ago)`;
  const live = link.state === "live";
  $("link").className = `link ${live ? "up" : "down"}`;
  $("link-text").textContent = live ? "Live" : link.state === "connecting" ? "Connecting…" : "Reconnecting…";
  const banner = $("banner");
  let text = "";
  if (link.state === "down") {
    text = `Disconnected from the server since ${new Date(link.since).toLocaleTimeString("en-GB")} (${link.why}). Reconnecting on its own; everything on screen is as of ${clock(model.dataT)}.`;
  } else if (live && positions && model.students.size && age !== null && age > STALE_S) {
    text = `No new positions for ${duration(age)}: dots show where students were last located, not where they are now.`;
  }
  banner.hidden = !text;
  banner.textContent = text;
  document.body.classList.toggle("stale", !!text);
}

function bindTabs() {
  const tabs = ["alerts", "evacuation", "attendance", "feedback"].map((n) => $(`tab-${n}`));
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    tab.focus();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (ev) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
      if (step) select(tabs[(i + step + tabs.length) % tabs.length]);
    });
  });
}

main();
