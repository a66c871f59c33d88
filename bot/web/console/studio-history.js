// History: every revision, newest first, with who, when, what changed; compare any two revisions
// (per step, per text and language, per resource, readable without knowing YAML); open a revision
// to edit from it; roll back to an earlier one (admins).
"use strict";
Studio.register({
  id: "history",
  title: "History",
  async render(host, studio) {
    const { el, api } = studio;
    host.append(el("h2", { text: "History" }));
    const table = el("table", { class: "grid" });
    const diffView = el("div", { id: "diff-view", "aria-live": "polite" });
    host.append(el("p", { class: "hint", text: "Pick two revisions to compare them, or roll back to an earlier one: its content is published again as a new revision." }), table, diffView);
    let revisions;
    try { revisions = await api("GET", "/api/content/revisions"); } catch (error) { host.append(el("p", { class: "error", role: "alert", text: error.message })); return; }
    const mayPublish = studio.state.overview && studio.state.overview.may_publish;
    table.append(el("thead", {}, el("tr", {}, ["Revision", "Status", "Who", "When", "What", "Compare", ""].map((h) => el("th", { scope: "col", text: h })))));
    const body = el("tbody");
    const picked = [];
    for (const r of revisions) {
      const compare = el("input", { type: "checkbox", "aria-label": `Compare revision ${r.number}` });
      compare.addEventListener("change", () => {
        if (compare.checked) picked.push(r.number); else picked.splice(picked.indexOf(r.number), 1);
        while (picked.length > 2) { const dropped = picked.shift(); const box = body.querySelector(`[data-number="${dropped}"]`); if (box) box.checked = false; }
        if (picked.length === 2) showDiff(Math.min(...picked), Math.max(...picked));
      });
      compare.dataset.number = r.number;
      const actions = el("td", {},
        el("button", { type: "button", class: "quiet", text: "Edit from here", onclick: () => studio.load(r.number) }),
        mayPublish && r.status !== "published" ? el("button", { type: "button", class: "quiet", text: "Roll back to this", onclick: () => rollback(r.number) }) : null,
      );
      body.append(el("tr", {},
        el("td", { text: String(r.number) }),
        el("td", {}, el("span", { class: `badge ${r.status}`, text: r.status })),
        el("td", { text: r.author }),
        el("td", { text: new Date(r.created_at).toLocaleString() }),
        el("td", { text: r.message + studio.describeTags(r.tags) }),
        el("td", {}, compare),
        actions,
      ));
    }
    table.append(body);

    async function rollback(number) {
      try {
        const done = await api("POST", `/api/content/revisions/${number}/rollback`);
        await studio.load(done.revision.number);
        studio.say(`Revision ${number}'s content is live again, as revision ${done.revision.number}.`);
      } catch (error) { studio.say(`Not rolled back: ${error.message}`, true); }
    }

    async function showDiff(before, after) {
      diffView.replaceChildren(el("h3", { text: `From revision ${before} to revision ${after}` }));
      let changes;
      try { changes = await api("GET", `/api/content/revisions/${before}/diff/${after}`); } catch (error) { diffView.append(el("p", { class: "error", text: error.message })); return; }
      if (!changes.length) { diffView.append(el("p", { text: "No differences." })); return; }
      const kinds = { step: "Step", flow: "Flow setting", text: "Text", match: "Match words", language: "Language setting", understanding: "Examples", resource: "Resource", file: "File" };
      const list = el("table", { class: "grid" });
      list.append(el("thead", {}, el("tr", {}, ["What", "Language", "Change", "Before", "After"].map((h) => el("th", { scope: "col", text: h })))));
      const rows = el("tbody");
      for (const c of changes) {
        rows.append(el("tr", {},
          el("td", { text: `${kinds[c.kind] || c.kind} ${c.item}` }),
          el("td", { text: c.language || "" }),
          el("td", { text: c.change }),
          el("td", { class: "diff-before", text: c.before }),
          el("td", { class: "diff-after", text: c.after }),
        ));
      }
      list.append(rows);
      diffView.append(list);
    }
  },
});
