// Translations: one language beside the base language, string by string (texts, choice labels,
// match words), filtered by what needs work (missing, changed since translated, not reviewed),
// with each language's progress. As the admin types, the server reads the text as it would be
// sent (POST /api/content/text-check: SMS encoding and segments, the lock-screen preview and the
// words in it that could reveal the service, placeholders): the same functions `flows check`
// uses, so the screen and the check agree. Saving a translation or approving one writes the text
// and its review entry (state, by, at, source hash of the base text) into the working copy with
// Studio.edit, which keeps the file's comments; the draft bar saves it as a revision.
// Content is only ever put in the page with textContent.
"use strict";
Studio.register({
  id: "translations",
  title: "Translations",
  async render(host, studio) {
    const { el, api } = studio;
    const me = studio.state.me || {};
    const offered = (studio.state.overview && studio.state.overview.languages) || [];
    let baseLanguage = "en";
    const languages = () => offered.filter((code) => code !== baseLanguage);
    const STATUS_TEXT = {
      missing: "Missing", changed_since_translated: "Changed since translated", needs_review: "Needs review",
      translated: "Translated, not reviewed", approved: "Approved",
    };
    const FILTERS = {
      all: () => true,
      missing: (r) => r.status === "missing",
      changed: (r) => r.status === "changed_since_translated",
      not_reviewed: (r) => ["changed_since_translated", "needs_review", "translated"].includes(r.status),
    };

    host.append(el("h2", { text: "Translations" }));
    if (!languages().length) { host.append(el("p", { text: "You have no language to translate into." })); return; }
    const picker = el("select", { id: "tr-language" }, languages().map((code) => el("option", { value: code, text: code })));
    const filter = el("select", { id: "tr-filter" },
      el("option", { value: "all", text: "All strings" }),
      el("option", { value: "missing", text: "Missing" }),
      el("option", { value: "changed", text: "Changed since translated" }),
      el("option", { value: "not_reviewed", text: "Not yet reviewed" }));
    const progressLine = el("p", { id: "tr-progress", role: "status", "aria-live": "polite" });
    const notice = el("p", { id: "tr-notice", role: "status", "aria-live": "polite" });
    const list = el("div", { id: "tr-rows", class: "tr-rows" });
    host.append(
      el("div", { class: "tr-controls" },
        el("label", { class: "inline", for: "tr-language", text: "Language " }), picker,
        el("label", { class: "inline", for: "tr-filter", text: " Show " }), filter),
      el("p", { class: "hint", text: "Type a translation: its SMS cost, what a lock screen shows of it and any placeholder problem appear below it. Save translation puts it in your draft; Approve marks it reviewed. Save the draft with the bar above." }),
      progressLine, notice, list,
    );

    let data = null;
    const views = new Map(); // "section:key" -> { row, status, textareas }

    async function fetchRows() {
      const code = picker.value;
      return api("POST", `/api/content/translations/${encodeURIComponent(code)}`, { base: studio.state.base, changes: studio.state.edits });
    }

    async function reload() {
      try { data = await fetchRows(); } catch (error) { list.replaceChildren(el("p", { class: "error", role: "alert", text: error.message })); return; }
      baseLanguage = data.base_language;
      showProgress();
      renderRows();
    }

    function showProgress() {
      const p = data.progress;
      progressLine.textContent = `${data.language}: ${p.translated}/${p.total} translated, ${p.approved} approved, ` +
        `${p.missing} missing, ${p.changed_since_translated} changed since translated, ${p.needs_review} needing review.`;
    }

    function renderRows() {
      views.clear();
      const shown = data.rows.filter(FILTERS[filter.value]);
      if (!shown.length) { list.replaceChildren(el("p", { text: "Nothing to show with this filter." })); return; }
      list.replaceChildren(...shown.map(renderRow));
    }

    const rowId = (row) => `tr-${row.section}-${row.key}`.replace(/[^a-zA-Z0-9_-]/g, "_");

    function renderRow(row) {
      const id = rowId(row);
      const status = el("span", { class: `badge tr-${row.status}`, text: STATUS_TEXT[row.status] });
      const who = el("span", { class: "hint" });
      const live = el("div", { class: "tr-live", id: `${id}-live`, "aria-live": "polite" });
      const kind = row.kind === "match" ? "Match words" : row.kind === "label" ? "Choice label" : "Text";
      const fields = [];
      const inputs = [];
      if (row.section === "match") {
        const input = el("textarea", { id: `${id}-input`, rows: "2", "data-key": row.key, "data-section": "match", "aria-describedby": `${id}-base` });
        input.value = (row.translation || []).join(", ");
        fields.push(el("label", { for: `${id}-input`, text: `${data.language}: words a person may type, separated by commas` }), input);
        inputs.push({ form: null, input });
      } else if (row.base && typeof row.base === "object") {
        for (const form of Object.keys(row.base)) {
          const input = el("textarea", { id: `${id}-${form}`, rows: "3", "data-key": row.key, "data-form": form, "aria-describedby": `${id}-live` });
          input.value = (row.translation && row.translation[form]) || "";
          fields.push(el("label", { for: `${id}-${form}`, text: `${data.language} (${form})` }), input);
          inputs.push({ form, input });
        }
      } else {
        const lines = Math.min(12, Math.max(2, String(row.base).split("\n").length + 1));
        const input = el("textarea", { id: `${id}-input`, rows: String(lines), "data-key": row.key, "data-section": "text", "aria-describedby": `${id}-live` });
        input.value = row.translation || "";
        fields.push(el("label", { for: `${id}-input`, text: `${data.language} translation` }), input);
        inputs.push({ form: null, input });
      }
      const view = { row, status, who, live, inputs };
      views.set(`${row.section}:${row.key}`, view);
      describeReview(view);
      if (row.section === "text") {
        let timer = null;
        for (const { form, input } of inputs) {
          input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => liveCheck(view, input, form), 350); });
          input.addEventListener("focus", () => { if (!live.childNodes.length && input.value) liveCheck(view, input, form); });
        }
      }
      const save = el("button", { type: "button", text: "Save translation", onclick: () => write(view, "translated") });
      const approve = el("button", { type: "button", class: "quiet", text: "Approve", onclick: () => write(view, "approved") });
      return el("article", { class: "tr-row", id, "aria-labelledby": `${id}-key` },
        el("h3", { id: `${id}-key` }, el("code", { text: row.key }), ` ${kind} `, status, " ", who),
        el("div", { class: "tr-pair" },
          el("div", { class: "tr-base" },
            el("span", { class: "hint", text: `${data.base_name} (base)` }),
            el("pre", { id: `${id}-base`, text: baseShown(row) })),
          el("div", { class: "tr-edit" }, ...fields, live)),
        el("div", { class: "tr-actions" }, save, approve));
    }

    function baseShown(row) {
      if (Array.isArray(row.base)) return row.base.join(", ");
      if (row.base && typeof row.base === "object") return Object.entries(row.base).map(([f, t]) => `${f}: ${t}`).join("\n");
      return row.base;
    }

    function describeReview(view) {
      const r = view.row.review;
      view.status.className = `badge tr-${view.row.status}`;
      view.status.textContent = STATUS_TEXT[view.row.status];
      view.who.textContent = r && r.by ? `(${r.state.replace("_", " ")} by ${r.by}${r.at ? ` at ${new Date(r.at).toLocaleString()}` : ""})` : "";
    }

    async function liveCheck(view, input, form) {
      const base = form ? view.row.base[form] : view.row.base;
      let result;
      try {
        result = await api("POST", "/api/content/text-check", { language: data.language, key: view.row.key, text: input.value, base_text: base });
      } catch (error) { view.live.replaceChildren(el("p", { class: "error", text: `Not checked: ${error.message}` })); return; }
      const parts = [];
      const encoding = result.encoding === "gsm7" ? "GSM-7" : "UCS-2 (Unicode)";
      parts.push(el("p", { class: result.segments > 3 ? "warn-text" : "", text:
        `SMS: ${encoding}, ${result.segments} segment${result.segments === 1 ? "" : "s"} (${result.units} ${result.encoding === "gsm7" ? "characters" : "units"})` +
        (result.non_gsm7 ? `; ${result.non_gsm7} is not GSM-7` : "") }));
      const preview = el("blockquote", { class: "tr-preview" }, ...highlighted(result.lock_screen_preview, result.revealing_words));
      parts.push(el("p", { class: "hint", text: "A lock screen shows:" }), preview);
      if (result.revealing_words.length) {
        parts.push(el("p", { class: "error tr-revealing", role: "alert", text: `The lock screen could reveal the service: ${result.revealing_words.join(", ")}. Move it past the first lines or say it another way.` }));
      }
      for (const p of result.placeholders) {
        parts.push(el("p", { class: "error", text: p.problem === "unknown"
          ? `Unknown placeholder {${p.name}}: nothing fills it; it would be sent as written.`
          : `Placeholder {${p.name}} is in the base text but not in this translation.` }));
      }
      for (const word of result.opt_out_words) {
        parts.push(el("p", { class: "error", text: `Teaches the carrier opt-out word ${word.toUpperCase()}: the carrier blocks whoever sends it. Say it another way.` }));
      }
      view.live.replaceChildren(...parts);
    }

    // The preview as text nodes, each word that starts with a revealing stem in a <mark>.
    function highlighted(preview, stems) {
      if (!stems.length) return [preview];
      const fold = (w) => w.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
      const out = [];
      for (const piece of preview.split(/(\s+)/)) {
        const word = fold(piece).replace(/^[^a-z0-9]+/, "");
        if (piece.trim() && stems.some((s) => /[a-z]/.test(s) && word.startsWith(s))) out.push(el("mark", { text: piece }));
        else out.push(piece);
      }
      return out;
    }

    function valueOf(view) {
      if (view.row.section === "match") {
        return view.inputs[0].input.value.split(",").map((w) => w.trim()).filter((w) => w);
      }
      if (view.inputs[0].form) return Object.fromEntries(view.inputs.map(({ form, input }) => [form, input.value]));
      return view.inputs[0].input.value;
    }

    async function write(view, state) {
      const { row } = view;
      const value = valueOf(view);
      if ((Array.isArray(value) && !value.length) || value === "") { studio.say(`Write the ${data.language} text of ${row.key} first.`, true); return; }
      const path = `locales/${data.language}.yaml`;
      const entry = { state, by: me.email, at: new Date().toISOString(), source: row.source };
      const edits = [];
      if (JSON.stringify(value) !== JSON.stringify(row.translation)) edits.push({ path: [row.section, row.key], value });
      edits.push({ path: ["review", row.section, row.key], value: entry });
      try {
        await studio.edit(path, edits);
      } catch (error) { studio.say(`Not changed: ${error.message}`, true); return; }
      try { data = await fetchRows(); } catch (error) { studio.say(error.message, true); return; }
      for (const fresh of data.rows) {
        const shown = views.get(`${fresh.section}:${fresh.key}`);
        if (shown) { shown.row = fresh; describeReview(shown); }
      }
      showProgress();
      notice.textContent = `${row.key} (${data.language}) ${state === "approved" ? "approved" : "saved"} in your draft. Save the draft to keep it.`;
    }

    picker.addEventListener("change", reload);
    filter.addEventListener("change", () => { if (data) renderRows(); });
    await reload();
  },
});
