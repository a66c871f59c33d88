// The content studio's shell: who is logged in, the working copy (the revision being edited and
// the unsaved edits over it), saving with conflict handling, checking, publishing, and the tabs.
// Each screen is its own script that calls `Studio.register(...)` (studio-*.js); a screen reads
// files through `Studio.text(path)` / `Studio.parsed(path)` and changes them through
// `Studio.setText(path, text)` or `Studio.edit(path, edits)` (server-side, keeps the file's
// comments), never by keeping its own copy. Talks only to /api/ on this origin; the CSRF token
// lives in memory only.
"use strict";

const Studio = (() => {
  const $ = (id) => document.getElementById(id);
  const screens = [];           // { id, title, render(el, studio), roles }
  const state = {
    me: null, csrf: null, overview: null,
    base: null,                 // the number of the revision the working copy started from
    baseRevision: null,         // its summary
    files: {},                  // path -> text of that revision
    edits: {},                  // path -> text (null: removed) not saved yet
    problems: [], current: null,
  };
  let checkTimer = null;

  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin", cache: "no-store",
    });
    if (response.status === 401) { showLogin(); throw new Error("Your session ended. Log in again on the console."); }
    let data = null;
    if (response.status !== 204) { try { data = await response.json(); } catch (_) { data = null; } }
    if (!response.ok) {
      const detail = data && data.detail;
      const error = new Error(typeof detail === "string" ? detail : (detail && detail.message) || response.statusText);
      error.status = response.status; error.detail = detail;
      throw error;
    }
    return data;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function showLogin() { $("studio").hidden = true; $("studio-login").hidden = false; }

  // -- the working copy ------------------------------------------------------------------------------
  const text = (path) => (path in state.edits ? state.edits[path] : state.files[path]);
  const paths = () => Object.keys({ ...state.files, ...state.edits }).filter((p) => text(p) !== null && text(p) !== undefined).sort();
  const dirty = () => Object.keys(state.edits).length > 0;

  function setText(path, value) {
    if (value === state.files[path]) delete state.edits[path];
    else state.edits[path] = value;
    changed();
  }

  /** Apply form edits to one file on the server (keeps its comments and layout); resolves to the new text. */
  async function edit(path, edits) {
    const answer = await api("POST", "/api/content/edit", { text: text(path) || "", edits });
    setText(path, answer.text);
    return answer.text;
  }

  function changed() {
    renderDraftBar();
    clearTimeout(checkTimer);
    checkTimer = setTimeout(check, 600); // checked as you go, once typing pauses
    document.dispatchEvent(new CustomEvent("studio:changed"));
  }

  let checks = 0;
  async function check() {
    const mine = ++checks; // answers may come back out of order: only the newest check's is kept
    let problems;
    try {
      problems = await api("POST", "/api/content/check", { base: state.base, changes: state.edits });
    } catch (error) { problems = [{ where: "(check)", what: error.message, severity: "error" }]; }
    if (mine !== checks) return;
    state.problems = problems;
    renderProblems();
    document.dispatchEvent(new CustomEvent("studio:checked"));
  }

  async function load(number) {
    const overview = await api("GET", "/api/content");
    state.overview = overview;
    const wanted = number || overview.head;
    if (!wanted) { state.base = null; state.files = {}; state.edits = {}; renderAll(); return; }
    const revision = await api("GET", `/api/content/revisions/${wanted}`);
    state.base = revision.revision.number;
    state.baseRevision = revision.revision;
    state.files = revision.files;
    state.edits = {};
    renderAll();
    check();
  }

  async function save(overwrite = false) {
    const message = $("draft-message").value.trim();
    $("conflict").hidden = true;
    try {
      const saved = await api("POST", "/api/content/revisions", { base: state.base, changes: state.edits, message, overwrite });
      $("draft-message").value = "";
      await load(saved.revision.number);
      say(`Saved as revision ${saved.revision.number} (a draft). ${saved.problems.filter((p) => p.severity === "error").length} error(s) to fix before publishing.`);
      return saved;
    } catch (error) {
      if (error.status === 409 && error.detail && error.detail.head) { showConflict(error.detail); return null; }
      say(`Not saved: ${error.message}`, true);
      return null;
    }
  }

  function showConflict(detail) {
    $("conflict-text").textContent = `Since you started from revision ${detail.base}, others saved changes to ${detail.files.join(", ")}. Your changes are still here, unsaved.`;
    $("conflict-since").replaceChildren(...detail.since.map((r) => el("li", {
      text: `Revision ${r.number} by ${r.author} at ${new Date(r.created_at).toLocaleString()}: ${r.message}` + describeTags(r.tags),
    })));
    $("conflict").hidden = false;
    $("conflict-reload").focus();
  }

  function describeTags(tags) {
    const parts = [];
    if (tags.steps && tags.steps.length) parts.push(`steps ${tags.steps.join(", ")}`);
    if (tags.languages && tags.languages.length) parts.push(`languages ${tags.languages.join(", ")}`);
    if (tags.resources && tags.resources.length) parts.push(`resources ${tags.resources.join(", ")}`);
    return parts.length ? ` (${parts.join("; ")})` : "";
  }

  async function publish() {
    if (dirty()) { say("Save your changes as a draft first; then publish that revision.", true); return; }
    try {
      const done = await api("POST", `/api/content/revisions/${state.base}/publish`);
      await load(done.revision.number);
      say(`Revision ${done.revision.number} is published. Every conversation uses it within ${done.reach_seconds} seconds.`);
    } catch (error) {
      if (error.status === 422 && error.detail && error.detail.problems) {
        state.problems = error.detail.problems; renderProblems();
        say("Not published: fix the errors listed under Problems.", true);
        $("problems").focus();
      } else say(`Not published: ${error.message}`, true);
    }
  }

  function say(message, isError = false) {
    const node = $("draft-state");
    node.textContent = message;
    node.classList.toggle("error", isError);
  }

  // -- rendering ---------------------------------------------------------------------------------------
  function renderDraftBar() {
    const o = state.overview || {};
    const edited = Object.keys(state.edits);
    const where = state.base ? `Editing revision ${state.base} (${state.baseRevision.status})` : "No revision yet";
    const live = o.published ? `; revision ${o.published} is live` : "";
    say(edited.length ? `${where}${live}. Unsaved changes in ${edited.join(", ")}.` : `${where}${live}. No unsaved changes.`);
    $("draft-save").disabled = !edited.length;
    $("draft-discard").disabled = !edited.length;
    $("draft-publish").hidden = !o.may_publish;
    $("draft-publish").disabled = edited.length > 0 || !state.base || (state.baseRevision && state.baseRevision.status === "published");
  }

  function renderProblems() {
    const list = state.problems;
    $("problems").hidden = !list.length;
    $("problems").setAttribute("tabindex", "-1");
    $("problems-list").replaceChildren(...list.map((p) => el("li", { class: p.severity, text: `${p.severity === "error" ? "Error" : "Warning"}: ${p.where}: ${p.what}` })));
  }

  function renderTabs() {
    const visible = screens.filter((s) => !s.roles || s.roles.includes(state.me.role));
    $("tabs").replaceChildren(...visible.map((s) => el("button", {
      type: "button", role: "tab", id: `tab-${s.id}`, "aria-selected": String(s.id === state.current), "aria-controls": `screen-${s.id}`,
      onclick: () => show(s.id), text: s.title,
    })));
  }

  function show(id) {
    state.current = id;
    renderTabs();
    const screen = screens.find((s) => s.id === id);
    const host = el("section", { id: `screen-${id}`, class: "screen", role: "tabpanel", "aria-labelledby": `tab-${id}` });
    $("screens").replaceChildren(host);
    if (screen) screen.render(host, Studio);
    const hash = `#${id}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  function renderAll() {
    renderDraftBar();
    renderProblems();
    if (!state.current && screens.length) state.current = (location.hash.slice(1) && screens.some((s) => s.id === location.hash.slice(1))) ? location.hash.slice(1) : screens[0].id;
    if (state.current) show(state.current);
  }

  async function start() {
    try { state.me = await api("GET", "/api/me"); } catch (_) { showLogin(); return; }
    state.csrf = state.me.csrf_token;
    if (!["admin", "translator"].includes(state.me.role)) {
      $("studio-refused").textContent = "The content studio is for admins and translators.";
      $("studio-refused").hidden = false;
      return;
    }
    $("who-email").textContent = `${state.me.email} (${state.me.role})`;
    $("who").hidden = false;
    $("studio").hidden = false;
    $("draft-save").addEventListener("click", () => save(false));
    $("draft-publish").addEventListener("click", publish);
    $("draft-discard").addEventListener("click", () => { state.edits = {}; renderAll(); check(); });
    $("conflict-reload").addEventListener("click", () => { $("conflict").hidden = true; load(); });
    $("conflict-overwrite").addEventListener("click", () => save(true));
    window.addEventListener("beforeunload", (event) => { if (dirty()) event.preventDefault(); });
    await load();
  }

  return {
    api, el, state, text, paths, setText, edit, load, save, publish, check, say, describeTags,
    get dirty() { return dirty(); },
    register(screen) { screens.push(screen); if (state.me) renderTabs(); },
    show, start,
  };
})();
