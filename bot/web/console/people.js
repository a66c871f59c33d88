// The People screen, for admins: the console's accounts (email, role, languages, status); add one
// (the generated password and authenticator secret are shown once, with how to pass them on);
// disable, enable, a new authenticator, a new role. Talks to /api/users through console.js's
// api(), and is one of its SCREENS: mounted at an admin's login, removed (with whatever secret it
// shows) whenever the session is forgotten. Everything here is inside one function: no names of
// its own reach the page's other scripts.
"use strict";

(() => {
  const ROLE_NAMES = { advocate: "Advocate", admin: "Admin", translator: "Translator" };
  let view = null; // { s, button, root, users, editing } while an admin's People screen is mounted

  const languagesOf = (text) => text.split(",").map((code) => code.trim()).filter(Boolean);

  function mount(s) {
    if (s.me.role !== "admin") return;
    const root = document.importNode($("people-template").content, true).firstElementChild;
    $("main").append(root);
    const button = document.createElement("button");
    button.type = "button"; button.id = "people-btn"; button.className = "quiet";
    button.textContent = "People"; button.setAttribute("aria-pressed", "false"); button.setAttribute("aria-controls", "people");
    $("who").insertBefore(button, $("logout-btn"));
    view = { s, button, root, users: [], editing: null };
    button.addEventListener("click", () => show(root.hidden));
    $("people-secret-done").addEventListener("click", () => { hideSecret(); $("people-email").focus(); });
    $("people-add").addEventListener("submit", (event) => { event.preventDefault(); add(); });
    $("people-role-form").addEventListener("submit", (event) => { event.preventDefault(); saveRole(); });
    $("people-role-cancel").addEventListener("click", () => closeRoleForm(true));
    for (const [select, input] of [["people-role", "people-languages"], ["people-role-role", "people-role-languages"]]) {
      $(select).addEventListener("change", () => languagesFor(select, input));
      languagesFor(select, input);
    }
  }

  function unmount() {
    if (!view) return;
    view.root.remove(); // with it any password or secret still shown
    view.button.remove();
    view = null;
  }

  /** The languages field only for a translator, and then required. */
  function languagesFor(selectId, inputId) {
    const translator = $(selectId).value === "translator";
    const input = $(inputId);
    input.closest("label").hidden = !translator;
    input.required = translator;
    if (!translator) input.value = "";
  }

  /** The People screen in place of the desk (true), or the desk back (false). */
  function show(on) {
    if (!view) return;
    const desk = $("desk");
    view.root.hidden = !on;
    if (desk) desk.hidden = on;
    view.button.setAttribute("aria-pressed", String(on));
    view.button.textContent = on ? "Back to conversations" : "People";
    if (on) { load(true); } else { hideSecret(); view.button.focus(); }
  }

  function fail(error) {
    if (view && !(error instanceof SessionGone)) $("people-error").textContent = error.message;
  }

  async function load(focus = false) {
    const current = view;
    try {
      const users = await api("GET", "/api/users", { owner: current.s });
      if (current !== view) return;
      current.users = users;
      render();
      if (focus) $("people-title").focus();
    } catch (error) { fail(error); }
  }

  function render() {
    const mine = view.s.me.email;
    $("people-rows").replaceChildren(...view.users.map((user) => {
      const row = document.createElement("tr");
      if (user.disabled) row.className = "disabled";
      const cell = (text) => { const td = document.createElement("td"); td.textContent = text; return td; };
      const email = document.createElement("th");
      email.scope = "row"; email.textContent = user.email + (user.email === mine ? " (you)" : "");
      const languages = user.role === "admin" ? "all" : user.languages.join(", ") || "—";
      const actions = document.createElement("td");
      actions.className = "actions";
      const own = user.email === mine;
      actions.append(
        action(user, user.disabled ? "enable" : "disable", user.disabled ? "Enable" : "Disable", own),
        action(user, "reset-2fa", "Reset 2FA", own),
        action(user, "role", "Change role", own),
      );
      row.append(email, cell(ROLE_NAMES[user.role] || user.role), cell(languages), cell(user.disabled ? "Disabled" : "Active"), actions);
      return row;
    }));
  }

  function action(user, kind, label, own) {
    const button = document.createElement("button");
    button.type = "button"; button.className = kind === "disable" ? "danger" : "quiet";
    button.dataset.user = String(user.id); button.dataset.action = kind;
    button.textContent = label;
    button.setAttribute("aria-label", `${label}: ${user.email}`);
    if (own) { button.disabled = true; button.title = "Not on your own account: another admin can"; }
    button.addEventListener("click", () => (kind === "role" ? openRoleForm(user) : act(user, kind)));
    return button;
  }

  /** Focus the button of `kind` on `user`'s row (re-rendered), else the table's caption. */
  function focusRow(userId, kind) {
    const selector = `#people-rows button[data-user="${userId}"]`;
    const button = document.querySelector(`${selector}[data-action="${kind}"]`) || document.querySelector(selector);
    (button && !button.disabled ? button : $("people-title")).focus();
  }

  const CONFIRM = {
    "disable": (email) => `Disable ${email}? Their sessions end at once and they cannot log in until enabled again.`,
    "reset-2fa": (email) => `Give ${email} a new authenticator secret? Their current app stops working and their sessions end.`,
  };

  async function act(user, kind) {
    const current = view;
    $("people-error").textContent = "";
    if (CONFIRM[kind] && !confirm(CONFIRM[kind](user.email))) return;
    try {
      const done = await api("POST", `/api/users/${encodeURIComponent(user.id)}/${kind}`, { owner: current.s });
      if (current !== view) return;
      await load();
      if (kind === "reset-2fa") showSecret(`New authenticator secret for ${user.email}`, done);
      else focusRow(user.id, kind === "disable" ? "enable" : "disable");
    } catch (error) { fail(error); }
  }

  async function add() {
    const current = view;
    $("people-error").textContent = "";
    const role = $("people-role").value;
    const body = { email: $("people-email").value.trim(), role, languages: role === "translator" ? languagesOf($("people-languages").value) : [] };
    try {
      const made = await api("POST", "/api/users", { body, owner: current.s });
      if (current !== view) return;
      $("people-add").reset();
      languagesFor("people-role", "people-languages");
      await load();
      showSecret(`Added ${made.user.email} (${ROLE_NAMES[made.user.role]})`, made);
    } catch (error) { fail(error); $("people-email").focus(); }
  }

  function openRoleForm(user) {
    view.editing = user;
    $("people-role-title").textContent = `Role of ${user.email}`;
    $("people-role-role").value = user.role;
    languagesFor("people-role-role", "people-role-languages");
    $("people-role-languages").value = user.languages.join(", ");
    $("people-role-form").hidden = false;
    $("people-role-role").focus();
  }

  function closeRoleForm(focusBack) {
    const user = view.editing;
    view.editing = null;
    $("people-role-form").hidden = true;
    if (focusBack && user) focusRow(user.id, "role");
  }

  async function saveRole() {
    const current = view, user = view.editing;
    if (!user) return;
    $("people-error").textContent = "";
    const role = $("people-role-role").value;
    const body = { role, languages: role === "translator" ? languagesOf($("people-role-languages").value) : [] };
    try {
      await api("POST", `/api/users/${encodeURIComponent(user.id)}/role`, { body, owner: current.s });
      if (current !== view) return;
      await load();
      closeRoleForm(true);
    } catch (error) { fail(error); }
  }

  /** The one-time password (a new account only) and secret, until "Done" or the session ends. */
  function showSecret(title, made) {
    $("people-secret-title").textContent = title;
    const password = made.password || "";
    $("people-secret-password").textContent = password;
    $("people-secret-password").hidden = $("people-password-term").hidden = !password;
    $("people-secret-key").textContent = made.secret;
    $("people-secret-uri").textContent = made.otpauth_uri;
    $("people-secret").hidden = false;
    $("people-secret-title").focus();
  }

  function hideSecret() {
    for (const id of ["people-secret-password", "people-secret-key", "people-secret-uri"]) $(id).textContent = "";
    $("people-secret").hidden = true;
  }

  SCREENS.push({ mount, unmount });
})();
