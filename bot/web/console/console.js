// The advocates' console: a queue that updates live (server-sent events), a chat view, replies
// through the person's channel. Talks only to /api/ on this origin; holds the CSRF token in
// memory (re-read from /api/me after a reload), never in storage.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { csrf: null, me: null, current: null, seenWaiting: new Set(), firstLoad: true, events: null };

async function api(method, path, body, background) {
  const headers = { "Accept": "application/json" };
  // Automatic refreshes say so: they must not keep an unattended session alive.
  if (background) headers["X-Background"] = "1";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (response.status === 401 && path !== "/api/auth/login") { showLogin(); throw new Error("Your session ended. Please log in again."); }
  if (!response.ok) {
    let reason = response.statusText;
    try { reason = (await response.json()).detail || reason; } catch (_) { /* not JSON */ }
    throw new Error(typeof reason === "string" ? reason : "The request was refused.");
  }
  return response.status === 204 ? null : response.json();
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

function updateSegments() {
  const text = $("reply-text").value;
  const cost = smsSegments(text);
  const sms = state.current && state.current.channel !== "telegram";
  $("segments").textContent = sms
    ? `${cost.units} characters, ${cost.segments} SMS segment${cost.segments === 1 ? "" : "s"} (${cost.encoding})`
    : `${Array.from(text).length} characters`;
}

// -- views -----------------------------------------------------------------------------------------
function showLogin() {
  if (state.events) { state.events.close(); state.events = null; }
  state.csrf = null; state.me = null;
  $("desk").hidden = true; $("who").hidden = true; $("login-view").hidden = false;
  $("login-email").focus();
}

function showDesk() {
  $("login-view").hidden = true; $("desk").hidden = false; $("who").hidden = false;
  $("who-email").textContent = `${state.me.email} (${state.me.role})`;
  $("notify-btn").hidden = !("Notification" in window) || Notification.permission !== "default";
  listen();
  refresh();
  loadAdvocates();
}

function waited(since) {
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 60000));
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function renderQueue(listId, items) {
  const list = $(listId);
  list.replaceChildren(...items.map((item) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.id = item.id;
    if (state.current && state.current.id === item.id) button.setAttribute("aria-current", "true");
    const name = document.createElement("span");
    name.textContent = item.label + (item.urgent ? " · urgent" : "") + (item.status === "left" ? " · left" : "");
    if (item.urgent) name.className = "urgent";
    if (item.status === "left") name.className = "left";
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `${item.language} · ${item.channel} · ${waited(item.waiting_since)}`;
    button.append(name, meta);
    button.addEventListener("click", () => openChat(item.id));
    li.append(button);
    return li;
  }));
}

async function refresh(background) {
  try {
    const [waiting, mine, open] = await Promise.all([
      api("GET", "/api/conversations?status=waiting", undefined, background),
      api("GET", "/api/conversations?status=mine", undefined, background),
      api("GET", "/api/conversations?status=open", undefined, background),
    ]);
    renderQueue("waiting-list", waiting);
    renderQueue("mine-list", mine);
    renderQueue("open-list", open);
    $("waiting-count").textContent = String(waiting.length);
    notifyNew(waiting);
    if (state.current) await loadChat(state.current.id, false, background);
  } catch (error) { /* shown by the login view when the session ended */ }
}

function notifyNew(waiting) {
  const fresh = waiting.filter((item) => !state.seenWaiting.has(item.id));
  waiting.forEach((item) => state.seenWaiting.add(item.id));
  if (state.firstLoad) { state.firstLoad = false; return; }
  if (fresh.length && "Notification" in window && Notification.permission === "granted") {
    // The label only: a notification can show on a shared screen.
    const urgent = fresh.some((item) => item.urgent);
    new Notification(urgent ? "Urgent chat waiting" : "New chat waiting", { body: fresh.map((i) => i.label).join(", "), tag: "safeharbor-queue" });
  }
}

async function openChat(id) {
  $("chat-error").textContent = "";
  await loadChat(id, true);
  document.querySelectorAll(".queue button").forEach((b) => b.setAttribute("aria-current", String(b.dataset.id === id)));
}

async function loadChat(id, focus, background) {
  const detail = await api("GET", `/api/conversations/${encodeURIComponent(id)}`, undefined, background);
  state.current = detail;
  $("chat-empty").hidden = true; $("chat-view").hidden = false;
  $("chat-title").textContent = detail.label + (detail.urgent ? " (urgent)" : "");
  const status = detail.status === "left" ? "The person left (quick exit). Nothing of the chat is kept." : `Status: ${detail.status}`;
  $("chat-meta").textContent = `${status} · ${detail.language} · ${detail.channel} · waiting since ${new Date(detail.waiting_since).toLocaleTimeString()}` + (detail.holder ? ` · held by ${detail.holder}` : "");
  const mine = detail.holder === state.me.email;
  const admin = state.me.role === "admin";
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
    button.addEventListener("click", () => { $("reply-text").value = item.text; updateSegments(); $("reply-text").focus(); });
    return button;
  }));
  if (mine || admin) {
    const lines = await api("GET", `/api/conversations/${encodeURIComponent(id)}/messages`, undefined, background);
    renderTranscript(lines);
  } else {
    $("transcript").replaceChildren();
  }
  updateSegments();
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
    who.textContent = `${SENDER[line.sender]}${line.author ? " " + line.author : ""} · ${new Date(line.at).toLocaleTimeString()}`;
    const text = document.createElement("span");
    text.textContent = line.text; // text, never HTML
    li.append(who, text);
    return li;
  }));
  if (atBottom) list.scrollTop = list.scrollHeight;
}

async function act(path, body) {
  $("chat-error").textContent = "";
  try {
    await api("POST", path, body);
    await refresh();
  } catch (error) { $("chat-error").textContent = error.message; }
}

async function loadAdvocates() {
  try {
    const people = await api("GET", "/api/advocates");
    const select = $("transfer-to");
    select.replaceChildren(select.options[0], ...people.filter((p) => p.email !== state.me.email).map((p) => {
      const option = document.createElement("option");
      option.value = p.email; option.textContent = p.email;
      return option;
    }));
  } catch (_) { /* the list stays as it was */ }
}

function listen() {
  if (state.events) state.events.close();
  state.events = new EventSource("/api/events");
  state.events.addEventListener("change", () => refresh(true));
  state.events.addEventListener("error", () => { if (state.events.readyState === EventSource.CLOSED) showLogin(); });
}

// -- wiring ----------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    try {
      const answer = await api("POST", "/api/auth/login", {
        email: $("login-email").value, password: $("login-password").value, otp: $("login-otp").value,
      });
      state.csrf = answer.csrf_token;
      $("login-password").value = ""; $("login-otp").value = "";
      state.me = await api("GET", "/api/me");
      showDesk();
    } catch (error) { $("login-error").textContent = error.message; }
  });
  $("logout-btn").addEventListener("click", async () => { try { await api("POST", "/api/auth/logout"); } catch (_) { /* gone anyway */ } showLogin(); });
  $("notify-btn").addEventListener("click", async () => { await Notification.requestPermission(); $("notify-btn").hidden = true; });
  $("claim-btn").addEventListener("click", () => act(`/api/conversations/${encodeURIComponent(state.current.id)}/claim`));
  $("release-btn").addEventListener("click", () => act(`/api/conversations/${encodeURIComponent(state.current.id)}/release`));
  $("close-btn").addEventListener("click", () => { if (confirm("Close this conversation? Its transcript will be deleted after the retention time.")) act(`/api/conversations/${encodeURIComponent(state.current.id)}/close`); });
  $("transfer-btn").addEventListener("click", () => act(`/api/conversations/${encodeURIComponent(state.current.id)}/transfer`, { to: $("transfer-to").value || null }));
  $("reply-text").addEventListener("input", updateSegments);
  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply-text").value.trim();
    if (!text) return;
    await act(`/api/conversations/${encodeURIComponent(state.current.id)}/messages`, { text });
    if (!$("chat-error").textContent) { $("reply-text").value = ""; updateSegments(); }
  });
  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("note-text").value.trim();
    if (!text) return;
    await act(`/api/conversations/${encodeURIComponent(state.current.id)}/notes`, { text });
    if (!$("chat-error").textContent) $("note-text").value = "";
  });
  // Ctrl/Cmd+Enter sends from the reply box.
  $("reply-text").addEventListener("keydown", (event) => { if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("reply-form").requestSubmit(); });
  setInterval(() => { if (state.me) refresh(true); }, 60000); // waiting times move on
  try {
    state.me = await api("GET", "/api/me");
    state.csrf = state.me.csrf_token;
    showDesk();
  } catch (_) { showLogin(); }
});
