// The live feed (sts.v1.json): sign in with a ticket, subscribe, keep the connection
// alive with heartbeats, and come back on its own after any drop.
//
// Each (re)connection starts from a fresh snapshot (GET /api/snapshot) and subscribes
// to what follows it (resume after the snapshot's sequence), so nothing is missed and
// nothing is applied twice, whatever happened while the page was cut off.

import { AuthError, snapshot, ticket } from "./session.js";

// The close code after which trying again cannot help: the token was revoked or expired.
const TOKEN_INVALID = 4003;
const BACKOFF_S = [0.5, 1, 2, 3, 5];

export class Feed {
  /**
   * @param {string} token
   * @param {{onSnapshot: Function, onMessage: Function, onLink: Function, onRefused: Function}} handlers
   */
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers;
    this.ws = null;
    this.stopped = false;
    this.attempt = 0;
    this.heartbeatTimer = null;
    this.nextRef = 1;
    this.pending = new Map(); // ref -> {resolve, reject}
    this.downSince = null;
  }

  start() {
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    if (this.ws) this.ws.close(1000, "signed out");
  }

  async connect() {
    if (this.stopped) return;
    this.handlers.onLink({ state: "connecting", attempt: this.attempt, since: this.downSince });
    let snap, pass;
    try {
      snap = await snapshot(this.token);
      pass = await ticket(this.token);
    } catch (err) {
      if (err instanceof AuthError) {
        this.handlers.onRefused(err.message);
        return;
      }
      this.retry(err.message);
      return;
    }
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/feed`, "sts.v1.json");
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "auth", ticket: pass }));
      ws.send(JSON.stringify({ type: "subscribe", resume: { after_seq: snap.seq } }));
    };
    ws.onmessage = (msg) => this.receive(JSON.parse(msg.data), snap);
    ws.onclose = (ev) => this.closed(ws, ev);
  }

  receive(message, snap) {
    if (message.type === "welcome") {
      this.attempt = 0;
      this.downSince = null;
      this.handlers.onSnapshot(snap);
      this.handlers.onLink({ state: "live" });
      clearInterval(this.heartbeatTimer);
      const every = Math.max(1, (message.heartbeat_s || 10) / 2) * 1000;
      this.heartbeatTimer = setInterval(() => this.send({ type: "heartbeat" }), every);
      return;
    }
    if ((message.type === "done" || message.type === "error") && this.pending.has(message.ref)) {
      const { resolve, reject } = this.pending.get(message.ref);
      this.pending.delete(message.ref);
      if (message.type === "done") resolve(message);
      else reject(new Error(message.message));
      return;
    }
    this.handlers.onMessage(message);
  }

  closed(ws, ev) {
    if (ws !== this.ws) return;
    clearInterval(this.heartbeatTimer);
    for (const { reject } of this.pending.values()) reject(new Error("the connection dropped"));
    this.pending.clear();
    if (this.stopped) return;
    if (ev.code === TOKEN_INVALID) {
      this.handlers.onRefused(ev.reason || "the token was revoked or has expired");
      return;
    }
    this.retry(ev.reason || `connection closed (${ev.code})`);
  }

  retry(why) {
    if (this.downSince === null) this.downSince = Date.now();
    const wait = BACKOFF_S[Math.min(this.attempt, BACKOFF_S.length - 1)];
    this.attempt += 1;
    this.handlers.onLink({ state: "down", why, retryIn: wait, since: this.downSince });
    setTimeout(() => this.connect(), wait * 1000);
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Send a command (ack, resolve, evacuate, mark_safe, end_evacuation); resolves on `done`. */
  command(message) {
    const ref = `r${this.nextRef++}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...message, id: ref })) {
        reject(new Error("not connected: try again when the feed is back"));
        return;
      }
      this.pending.set(ref, { resolve, reject });
      setTimeout(() => {
        if (this.pending.delete(ref)) reject(new Error("no answer from the server"));
      }, 10000);
    });
  }
}
