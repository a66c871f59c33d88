// The advocates' console: a queue that updates live (server-sent events), a chat view, replies
// through the person's channel. Talks only to /api/ on this origin; holds the CSRF token in
// memory (re-read from /api/me after a reload), never in storage.
//
// A console is a shared desk: whoever sits down after a logout must find nothing of the people
// the last advocate talked to. So everything of a logged-in session lives in one object,
// `session`, and in the desk, which is built from a <template> at login. Logging out, a session
// that ends on the server (a 401), and leaving the page (it may be kept in the back/forward
// cache) all go through `forget()`: it aborts the session's requests, closes its live stream,
// stops its timer, closes its notification, drops the object and removes the desk from the DOM.
// Every await checks that its session is still the current one before it touches the page.
"use strict";

const $ = (id) => document.getElementById(id);
const TITLE = document.title;
const LOGIN = "/api/auth/login";
const LOGOUT = "/api/auth/logout";
const SESSION_ENDED = "Your session ended. Please log in again.";
// (Closing the browser would not end it: the session cookie outlives the window.)
const LOGOUT_UNCONFIRMED = "The server did not confirm the logout, so this browser may still be logged in. When the connection is back, reload this page and log out again.";

// The logged-in session, or null: { me, csrf, current, seenWaiting, firstLoad, events, aborter, timer, notification }.
let session = null;
let loggingOut = Promise.resolve(); // a login waits for it: a late logout answer would delete the new cookie

// Screens beside the desk, each from its own file (people.js: admins' People screen), loaded after
// this one: { mount(s) at every login (the screen decides from s.me.role whether it shows),
// unmount() whenever the session is forgotten, which must drop everything the screen shows }.
const SCREENS = [];

class SessionGone extends Error {
  constructor() { super(SESSION_ENDED); this.name = "SessionGone"; }
}

/** A call to the API on behalf of `owner` (the current session unless said; null for login and
 *  the "am I logged in?" probe). Throws SessionGone when `owner` has ended by the time the answer
 *  comes (so no caller renders into a page someone else now sits at), and on a 401, after
 *  clearing the page. */
async function api(method, path, { body, background = false, owner = session, csrf } = {}) {
  const headers = { "Accept": "application/json" };
  // Automatic refreshes say so: they must not keep an unattended session alive.
  if (background) headers["X-Background"] = "1";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const token = csrf || (owner && owner.csrf);
  if (method !== "GET" && token) headers["X-CSRF-Token"] = token;
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin", cache: "no-store", signal: owner ? owner.aborter.signal : undefined,
  });
  if (owner && owner !== session) throw new SessionGone();
  if (response.status === 401 && path !== LOGIN) {
    if (owner) showLogin(SESSION_ENDED);
    throw new SessionGone();
  }
  if (!response.ok) {
    let reason = response.statusText;
    try { reason = (await response.json()).detail || reason; } catch (_) { /* not JSON */ }
    throw new Error(typeof reason === "string" ? reason : "The request was refused.");
  }
  const data = response.status === 204 ? null : await response.json();
  if (owner && owner !== session) throw new SessionGone();
  return data;
}

// -- SMS segments, as carriers count them (GSM-7: 160/153; otherwise UCS-2: 70/67) ---------------
const GSM7 = new Set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà");
const GSM7_EXT = new Set("^{}\\[~]|€\f");
function smsSegments(text) {
  const chars = Array.from(text);
  if (!chars.length) return { encoding: "GSM-7", units: 0, segments: 0 };
  const gsm = chars.every((c) => GSM7.has(c) || GSM7_EXT.has(c));
  const widths = chars.map((c) => (gsm ? (GSM7_EXT.has(c) ? 2 : 1) : (c.codePointAt(0) > 0xffff ? 2 : 1)));
  const total = widths.reduce((a, b) => a + b, 0);
  const [single, multi] = gsm ? [160, 153] : [70, 67];
  if (total <= single) return { encoding: gsm ? "GSM-7" : "UCS-2", units: total, segments: 1 };
  let segments = 1, used = 0;
  for (const w of widths) { if (used + w > multi) { segments += 1; used = 0; } used += w; }
  return { encoding: gsm ? "GSM-7" : "UCS-2", units: total, segments };
}

function updateSegments(s) {
  const text = $("reply-text").value;
  const cost = smsSegments(text);
  const sms = s.current && s.current.channel !== "telegram";
  $("segments").textContent = sms
    ? `${cost.units} characters, ${cost.segments} SMS segment${cost.segments === 1 ? "" : "s"} (${cost.encoding})`
    : `${Array.from(text).length} characters`;
}

// -- a session's life ------------------------------------------------------------------------------
/** Drop everything of the session this page holds; the desk leaves the DOM. The server session is
 *  not touched (the logout button does that). */
function forget() {
  const ending = session;
  session = null;
  if (ending) {
    ending.aborter.abort();
    if (ending.events) ending.events.close();
    clearInterval(ending.timer);
    if (ending.notification) ending.notification.close();
  }
  SCREENS.forEach((screen) => screen.unmount());
  const desk = $("desk");
  if (desk) desk.remove();
  $("no-desk").hidden = true;
  $("who").hidden = true;
  $("who-email").textContent = "";
  document.title = TITLE;
}

function showLogin(reason = "") {
  forget();
  $("login-form").reset();
  $("login-error").textContent = reason;
  $("login-view").hidden = false;
  $("login-email").focus();
}

function startSession(me) {
  forget();
  const s = {
    me, csrf: me.csrf_token, current: null, seenWaiting: new Set(), firstLoad: true,
    events: null, aborter: new AbortController(), timer: null, notification: null,
  };
  session = s;
  $("login-view").hidden = true;
  $("who-email").textContent = `${me.email} (${me.role})`;
  $("who").hidden = false;
  $("studio-link").hidden = !["admin", "translator"].includes(me.role); // the content studio's own page
  SCREENS.forEach((screen) => screen.mount(s));
  if (me.role === "translator") { // the desk is for advocates and admins (the API refuses the rest)
    $("notify-btn").hidden = true;
    $("no-desk").hidden = false;
    return;
  }
  mountDesk(s);
  $("notify-btn").hidden = !("Notification" in window) || Notification.permission !== "default";
  s.timer = setInterval(() => refresh(s, true), 60000); // waiting times move on
  listen(s);
  refresh(s);
  loadAdvocates(s);
}

/** Logged in already (a reload, or a page back from the back/forward cache)? Then the desk, else
 *  the login form. */
async function boot() {
  let me;
  try { me = await api("GET", "/api/me", { owner: null }); } catch (_) { showLogin(); return; }
  startSession(me);
}

function logOut() {
  const ending = session;
  showLogin(); // the page forgets at once, whatever the server answers
  if (!ending) return;
  loggingOut = api("POST", LOGOUT, { owner: null, csrf: ending.csrf })
    .catch((error) => { if (!(error instanceof SessionGone)) $("login-error").textContent = LOGOUT_UNCONFIRMED; });
}

// -- the desk --------------------------------------------------------------------------------------
function waited(since) {
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 60000));
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function renderQueue(s, listId, items) {
  const list = $(listId);
  list.replaceChildren(...items.map((item) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.id = item.id;
    if (s.current && s.current.id === item.id) button.setAttribute("aria-current", "true");
    const name = document.createElement("span");
    name.textContent = item.label + (item.urgent ? " · urgent" : "") + (item.status === "left" ? " · left" : "");
    if (item.urgent) name.className = "urgent";
    if (item.status === "left") name.className = "left";
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `${item.language} · ${item.channel} · ${waited(item.waiting_since)}`;
    button.append(name, meta);
    button.addEventListener("click", () => openChat(s, item.id));
    li.append(button);
    return li;
  }));
}

async function refresh(s, background = false) {
  if (s !== session) return;
  try {
    const [waiting, mine, open] = await Promise.all([
      api("GET", "/api/conversations?status=waiting", { background, owner: s }),
      api("GET", "/api/conversations?status=mine", { background, owner: s }),
      api("GET", "/api/conversations?status=open", { background, owner: s }),
    ]);
    if (s !== session) return;
    renderQueue(s, "waiting-list", waiting);
    renderQueue(s, "mine-list", mine);
    renderQueue(s, "open-list", open);
    $("waiting-count").textContent = String(waiting.length);
    notifyNew(s, waiting);
    if (s.current) await loadChat(s, s.current.id, false, background);
  } catch (_) { /* an ended session shows the login form; a passing fault waits for the next change */ }
}

function notifyNew(s, waiting) {
  const fresh = waiting.filter((item) => !s.seenWaiting.has(item.id));
  waiting.forEach((item) => s.seenWaiting.add(item.id));
  if (s.firstLoad) { s.firstLoad = false; return; }
  if (fresh.length && "Notification" in window && Notification.permission === "granted") {
    // The label only: a notification can show on a shared screen (and is closed at logout).
    const urgent = fresh.some((item) => item.urgent);
    s.notification = new Notification(urgent ? "Urgent chat waiting" : "New chat waiting", { body: fresh.map((i) => i.label).join(", "), tag: "safeharbor-queue" });
  }
}

async function openChat(s, id) {
  if (s !== session) return;
  $("chat-error").textContent = "";
  try {
    await loadChat(s, id, true);
  } catch (error) {
    if (s === session) $("chat-error").textContent = error.message;
    return;
  }
  document.querySelectorAll(".queue button").forEach((b) => b.setAttribute("aria-current", String(b.dataset.id === id)));
}

async function loadChat(s, id, focus, background = false) {
  const detail = await api("GET", `/api/conversations/${encodeURIComponent(id)}`, { background, owner: s });
  if (s !== session) return;
  s.current = detail;
  $("chat-empty").hidden = true; $("chat-view").hidden = false;
  $("chat-title").textContent = detail.label + (detail.urgent ? " (urgent)" : "");
  const status = detail.status === "left" ? "The person left (quick exit). Nothing of the chat is kept." : `Status: ${detail.status}`;
  // How the person chose to get replies: what an advocate writes to someone who will check back
  // waits until they write again (and the advocate must know that before writing).
  const replies = detail.replies === "held" ? " · replies wait until the person writes again" : " · replies are sent as you write them";
  $("chat-meta").textContent = `${status} · ${detail.language} · ${detail.channel} · waiting since ${new Date(detail.waiting_since).toLocaleTimeString()}` + (detail.holder ? ` · held by ${detail.holder}` : "") + replies;
  const mine = detail.holder === s.me.email;
  const admin = s.me.role === "admin";
  $("claim-btn").disabled = !(detail.status === "waiting" || (detail.status === "held" && mine));
  $("claim-btn").hidden = mine && detail.status === "held";
  const manage = (mine || admin) && ["held", "waiting"].includes(detail.status);
  $("release-btn").disabled = !manage;
  $("transfer-btn").disabled = !(manage && detail.status === "held");
  $("close-btn").disabled = !((mine || admin) && detail.status !== "closed");
  $("send-btn").disabled = !(mine && detail.status === "held");
  $("reply-text").disabled = $("send-btn").disabled;
  const canned = $("canned");
  canned.replaceChildren(...detail.canned.map((item) => {
    const button = document.createElement("button");
    button.type = "button"; button.textContent = item.title; button.title = item.text;
    button.disabled = $("send-btn").disabled;
    button.addEventListener("click", () => { $("reply-text").value = item.text; updateSegments(s); $("reply-text").focus(); });
    return button;
  }));
  if (mine || admin) {
    const lines = await api("GET", `/api/conversations/${encodeURIComponent(id)}/messages`, { background, owner: s });
    if (s !== session) return;
    renderTranscript(lines);
  } else {
    $("transcript").replaceChildren();
  }
  updateSegments(s);
  if (focus) ($("claim-btn").disabled ? $("reply-text") : $("claim-btn")).focus();
}

const SENDER = { person: "Person", bot: "Bot", advocate: "Advocate", note: "Note", system: "" };
function renderTranscript(lines) {
  const list = $("transcript");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...lines.map((line) => {
    const li = document.createElement("li");
    li.className = line.sender;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = `${SENDER[line.sender]}${line.author ? " " + line.author : ""} · ${new Date(line.at).toLocaleTimeString()}` + (line.pending ? " · waiting for them to write" : "");
    const text = document.createElement("span");
    text.textContent = line.text; // text, never HTML
    li.append(who, text);
    return li;
  }));
  if (atBottom) list.scrollTop = list.scrollHeight;
}

/** A POST about the open conversation, then a refresh; true when it was done. */
async function act(s, path, body) {
  if (s !== session) return false;
  $("chat-error").textContent = "";
  try {
    await api("POST", path, { body, owner: s });
    await refresh(s);
    return true;
  } catch (error) {
    if (s === session) $("chat-error").textContent = error.message;
    return false;
  }
}

async function loadAdvocates(s) {
  try {
    const people = await api("GET", "/api/advocates", { owner: s });
    if (s !== session) return;
    const select = $("transfer-to");
    select.replaceChildren(select.options[0], ...people.filter((p) => p.email !== s.me.email).map((p) => {
      const option = document.createElement("option");
      option.value = p.email; option.textContent = p.email;
      return option;
    }));
  } catch (_) { /* the list stays as it was */ }
}

function listen(s) {
  if (s !== session) return;
  const events = new EventSource("/api/events");
  s.events = events;
  events.addEventListener("change", () => refresh(s, true));
  events.addEventListener("error", () => {
    // CLOSED: the server refused the stream. A 401 to the probe means the session ended (api()
    // then shows the login form); anything else was passing, so listen again.
    if (events.readyState !== EventSource.CLOSED || s !== session) return;
    api("GET", "/api/me", { background: true, owner: s })
      .catch(() => {})
      .then(() => setTimeout(() => listen(s), 5000));
  });
}

/** The desk's elements and their handlers, fresh for session `s`. */
function mountDesk(s) {
  $("main").append(document.importNode($("desk-template").content, true));
  const here = () => `/api/conversations/${encodeURIComponent(s.current.id)}`;
  $("claim-btn").addEventListener("click", () => act(s, `${here()}/claim`));
  $("release-btn").addEventListener("click", () => act(s, `${here()}/release`));
  $("close-btn").addEventListener("click", () => { if (confirm("Close this conversation? Its transcript will be deleted after the retention time.")) act(s, `${here()}/close`); });
  $("transfer-btn").addEventListener("click", () => act(s, `${here()}/transfer`, { to: $("transfer-to").value || null }));
  $("reply-text").addEventListener("input", () => updateSegments(s));
  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply-text").value.trim();
    if (!text) return;
    if (await act(s, `${here()}/messages`, { text })) { $("reply-text").value = ""; updateSegments(s); }
  });
  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("note-text").value.trim();
    if (!text) return;
    if (await act(s, `${here()}/notes`, { text })) $("note-text").value = "";
  });
  // Ctrl/Cmd+Enter sends from the reply box.
  $("reply-text").addEventListener("keydown", (event) => { if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("reply-form").requestSubmit(); });
}

// -- wiring ----------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    await loggingOut;
    try {
      await api("POST", LOGIN, {
        owner: null, body: { email: $("login-email").value, password: $("login-password").value, otp: $("login-otp").value },
      });
      $("login-password").value = ""; $("login-otp").value = "";
      startSession(await api("GET", "/api/me", { owner: null }));
    } catch (error) { $("login-error").textContent = error.message; }
  });
  $("logout-btn").addEventListener("click", logOut);
  $("notify-btn").addEventListener("click", async () => { await Notification.requestPermission(); $("notify-btn").hidden = true; });
  boot();
});

// Leaving the page may keep it, frozen, in the back/forward cache, where "Back" would show it to
// whoever uses the browser next: forget the session first, so what is kept is an empty page. If
// it comes back, ask the server again who is logged in.
window.addEventListener("pagehide", () => { forget(); $("login-view").hidden = true; });
window.addEventListener("pageshow", (event) => { if (event.persisted) boot(); });
