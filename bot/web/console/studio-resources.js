// Resources: the directory's entries (flows/resources/*.yaml) in a table with the ones due for a
// re-check marked, a form to edit one or add one with the fields the directory requires (source
// address and checked date among them; the form refuses without them, and the server's check
// lists any that are still missing), and retiring an entry (it is removed from its file; the
// history keeps it). Changes go through Studio.edit on the entry's file, path
// ["resources", index, field].
"use strict";
(() => {
  const FIELDS = [
    // name, label, kind (text | localized | list | bool | date), hint
    ["id", "Id", "text", "lowercase letters, digits and _ (e.g. legal_aid_sf)"],
    ["name", "Name", "localized", "one name, or one per language"],
    ["categories", "Categories", "categories", ""],
    ["area", "Area served", "text", "e.g. United States, or San Francisco County"],
    ["languages", "Languages (calls)", "list", "language codes, comma-separated: en, es"],
    ["phone", "Phone", "text", "1-NNN-NNN-NNNN, or a three-digit code (988)"],
    ["text", "Text number", "text", ""],
    ["web", "Website", "text", "https://..."],
    ["hours", "Hours", "localized", "24/7, or per language"],
    ["audiences", "Only for", "list", "e.g. youth (empty: everyone)"],
    ["source", "Source address", "text", "the page that confirms it: https://..."],
    ["checked", "Checked on", "date", "the day it was confirmed against the source"],
    ["free", "Free of charge", "bool", ""],
  ];
  const ID = /^[a-z0-9_]+$/;

  Studio.register({
    id: "resources",
    title: "Resources",
    roles: ["admin"],
    async render(host, studio) {
      const { el } = studio;
      let view = null;
      let editing = null; // {path, index} of the entry in the form, or {path, index: null} for a new one
      let sequence = 0;
      const summary = el("p", { id: "resources-summary", class: "hint" });
      const table = el("table", { class: "grid", id: "resources-table" });
      const form = el("div", { id: "resource-form" });
      const addButton = el("button", { type: "button", id: "resource-add", text: "Add an entry" });
      addButton.addEventListener("click", () => { editing = { path: view.files[0].path, index: null }; draw(); });
      host.append(el("h2", { text: "Resources" }), summary, addButton, form, table);

      async function refresh() {
        const mine = ++sequence;
        let answer;
        try { answer = await studio.api("POST", "/api/content/resources-view", { base: studio.state.base, changes: studio.state.edits }); } catch (error) { table.replaceChildren(el("caption", { class: "error", text: error.message })); return; }
        if (mine !== sequence || !host.isConnected) return;
        view = answer;
        draw();
      }
      const onChanged = () => { if (!host.isConnected) { document.removeEventListener("studio:changed", onChanged); return; } refresh(); };
      const onChecked = () => { if (!host.isConnected) { document.removeEventListener("studio:checked", onChecked); return; } if (view) drawTable(); };
      document.addEventListener("studio:changed", onChanged);
      document.addEventListener("studio:checked", onChecked);

      const problemsOf = (path, index) => studio.state.problems.filter((p) => p.where.startsWith(`${path}: resources[${index}]`));

      function draw() { drawTable(); drawForm(); }

      function drawTable() {
        const entries = view.files.flatMap((f) => f.entries.map((e) => ({ ...e, path: f.path, region: f.region })));
        const due = entries.filter((e) => e.due);
        summary.textContent = `${entries.length} entries; ${due.length} due for a re-check (checked more than ${view.max_age_months} months before ${view.today}, or with no usable date).`;
        addButton.disabled = !view.files.length;
        table.replaceChildren(el("thead", {}, el("tr", {}, ["Entry", "Region", "Categories", "Checked", "Re-check", "Problems", ""].map((h) => el("th", { scope: "col", text: h })))));
        const body = el("tbody");
        for (const e of entries) {
          const name = typeof e.entry.name === "object" && e.entry.name ? Object.values(e.entry.name)[0] : e.entry.name;
          const problems = problemsOf(e.path, e.index);
          body.append(el("tr", { "data-resource": e.entry.id || `#${e.index}`, class: e.due ? "due" : null },
            el("td", {}, el("strong", { text: String(name || "(no name)") }), el("br"), el("code", { text: e.entry.id || "" })),
            el("td", { text: e.region || "" }),
            el("td", { text: (e.entry.categories || []).join(", ") }),
            el("td", { text: e.entry.checked || "" }),
            el("td", { class: e.due ? "warning" : null, text: e.due ? `Due: ${e.due}` : "" }),
            el("td", {}, problems.map((p) => el("div", { class: p.severity, text: `${p.where.split("]").slice(1).join("]").replace(/^\./, "") || "entry"}: ${p.what}` }))),
            el("td", {},
              el("button", { type: "button", class: "quiet", text: "Edit", "aria-label": `Edit ${e.entry.id}`, onclick: () => { editing = { path: e.path, index: e.index }; drawForm(); form.scrollIntoView(); } }),
              el("button", { type: "button", class: "danger", text: "Retire", "aria-label": `Retire ${e.entry.id}`, onclick: () => retire(e) }),
            ),
          ));
        }
        table.append(body);
      }

      async function retire(e) {
        if (!window.confirm(`Retire ${e.entry.id}? It is removed from ${e.path} (earlier revisions keep it) and no step lists it any more.`)) return;
        if (editing && editing.path === e.path) editing = null;
        try { await studio.edit(e.path, [{ path: ["resources", e.index], delete: true }]); studio.say(`${e.entry.id} retired (unsaved: save the draft to keep it).`); } catch (error) { studio.say(`Not retired: ${error.message}`, true); }
      }

      function input(name, kind, value, languages) {
        const id = `resource-${name}`;
        if (kind === "bool") { const box = el("input", { type: "checkbox", id }); box.checked = value === true; return box; }
        if (kind === "date") return el("input", { type: "date", id, value: value || "" });
        if (kind === "list") return el("input", { id, value: Array.isArray(value) ? value.join(", ") : "" });
        if (kind === "categories") {
          return el("div", { id, class: "checks" }, view.categories.map((c) => {
            const box = el("input", { type: "checkbox", value: c, name: "categories" });
            box.checked = Array.isArray(value) && value.includes(c);
            return el("label", { class: "inline" }, box, ` ${c}`);
          }));
        }
        if (kind === "localized" && value && typeof value === "object") {
          const codes = [...new Set([...languages, ...Object.keys(value)])];
          return el("div", { id, class: "localized" }, codes.map((code) => el("label", { class: "inline" }, `${code} `, el("input", { "data-lang": code, value: value[code] || "" }))));
        }
        return el("input", { id, value: value === undefined || value === null ? "" : String(value) });
      }

      function read(name, kind, node) {
        if (kind === "bool") return node.checked ? true : undefined;
        if (kind === "list") { const items = node.value.split(",").map((s) => s.trim()).filter(Boolean); return items.length ? items : undefined; }
        if (kind === "categories") { const items = [...node.querySelectorAll("input:checked")].map((b) => b.value); return items.length ? items : undefined; }
        if (kind === "localized" && node.classList.contains("localized")) {
          const out = {};
          for (const field of node.querySelectorAll("input")) if (field.value.trim()) out[field.dataset.lang] = field.value.trim();
          return Object.keys(out).length ? out : undefined;
        }
        return node.value.trim() || undefined;
      }

      function drawForm() {
        if (!editing) { form.replaceChildren(); return; }
        const file = view.files.find((f) => f.path === editing.path);
        const current = editing.index === null ? {} : ((file && file.entries.find((e) => e.index === editing.index)) || {}).entry || {};
        const languages = studio.state.overview ? studio.state.overview.languages : ["en"];
        const nodes = {};
        const rows = FIELDS.map(([name, label, kind, hint]) => {
          nodes[name] = input(name, kind, current[name], languages);
          const required = view.required.includes(name);
          return el("div", { class: "row" },
            el("label", { for: `resource-${name}`, text: `${label}${required ? " (required)" : ""}` }), nodes[name],
            hint ? el("span", { class: "hint", text: hint }) : null);
        });
        const where = el("select", { id: "resource-file", "aria-label": "File" }, view.files.map((f) => el("option", { value: f.path, text: `${f.path} (${f.region})` })));
        where.value = editing.path;
        where.disabled = editing.index !== null;
        const refusal = el("p", { id: "resource-refusal", class: "error", role: "alert", hidden: true });
        const saveButton = el("button", { type: "submit", id: "resource-save", text: editing.index === null ? "Add to the directory" : "Apply changes" });
        const cancel = el("button", { type: "button", class: "quiet", text: "Cancel", onclick: () => { editing = null; drawForm(); } });
        const box = el("form", { class: "panel resource-form", "aria-label": editing.index === null ? "New entry" : `Entry ${current.id}` },
          el("h3", { text: editing.index === null ? "New entry" : `Edit ${current.id}` }),
          el("div", { class: "row" }, el("label", { for: "resource-file", text: "File" }), where),
          rows, refusal, saveButton, cancel);
        box.addEventListener("submit", async (event) => {
          event.preventDefault();
          const entry = {};
          for (const [name, , kind] of FIELDS) { const value = read(name, kind, nodes[name]); if (value !== undefined) entry[name] = value; }
          const missing = FIELDS.filter(([name]) => view.required.includes(name) && entry[name] === undefined).map(([, label]) => label.toLowerCase());
          const reasons = [];
          if (missing.length) reasons.push(`it needs: ${missing.join(", ")}`);
          if (!view.one_of.some((name) => entry[name] !== undefined)) reasons.push("it needs a way to reach them: a phone, a text number or a website");
          if (entry.id && !ID.test(entry.id)) reasons.push("the id is lowercase letters, digits and _");
          if (entry.source && !/^https?:\/\//.test(entry.source)) reasons.push("the source address starts with https:// (or http://)");
          if (entry.web && !/^https:\/\//.test(entry.web)) reasons.push("the website starts with https://");
          const others = view.files.flatMap((f) => f.entries.filter((e) => !(f.path === editing.path && e.index === editing.index)).map((e) => e.entry.id));
          if (entry.id && others.includes(entry.id)) reasons.push(`another entry has the id ${entry.id}`);
          if (reasons.length) { refusal.textContent = `Not saved: ${reasons.join("; ")}.`; refusal.hidden = false; return; }
          const path = editing.index === null ? where.value : editing.path;
          const target = view.files.find((f) => f.path === path);
          let edits;
          if (editing.index === null) {
            edits = [{ path: ["resources", target.entries.length ? Math.max(...target.entries.map((e) => e.index)) + 1 : 0], value: entry }];
            if (!target.entries.length) edits = [{ path: ["resources"], value: [entry] }];
          } else {
            edits = [];
            for (const [name] of FIELDS) {
              if (entry[name] !== undefined && JSON.stringify(entry[name]) !== JSON.stringify(current[name])) edits.push({ path: ["resources", editing.index, name], value: entry[name] });
              else if (entry[name] === undefined && current[name] !== undefined) edits.push({ path: ["resources", editing.index, name], delete: true });
            }
          }
          if (!edits.length) { editing = null; drawForm(); return; }
          try {
            await studio.edit(path, edits);
            studio.say(`${entry.id} ${editing.index === null ? "added" : "changed"} (unsaved: save the draft to keep it).`);
            editing = null;
          } catch (error) { refusal.textContent = `Not saved: ${error.message}`; refusal.hidden = false; }
        });
        form.replaceChildren(box);
      }

      await refresh();
    },
  });
})();
