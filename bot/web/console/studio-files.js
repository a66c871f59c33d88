// Files: any file of the working copy as text, for power users (and for what no form covers yet).
// The text is the file exactly as it will be exported; the server checks it as you type.
"use strict";
Studio.register({
  id: "files",
  title: "Files (YAML)",
  render(host, studio) {
    const { el } = studio;
    const picker = el("select", { id: "file-picker" }, studio.paths().map((p) => el("option", { value: p, text: p })));
    const editor = el("textarea", { id: "file-text", rows: "28", spellcheck: "false", class: "code" });
    const status = el("p", { id: "file-status", class: "meta", "aria-live": "polite" });
    const problems = el("ul", { id: "file-problems" });
    host.append(
      el("h2", { text: "Files" }),
      el("p", { class: "hint", text: "The files exactly as they are exported (flows/ and locales/). Edits here join the draft; the checks below and in Problems run as you type." }),
      el("label", { for: "file-picker", text: "File" }), picker,
      el("label", { for: "file-text", text: "Text" }), editor, status, problems,
    );
    const open = () => { editor.value = studio.text(picker.value) || ""; showProblems(); };
    function showProblems() {
      if (!host.isConnected) return; // another screen is shown now
      const mine = studio.state.problems.filter((p) => p.where.split(":")[0] === picker.value);
      problems.replaceChildren(...mine.map((p) => el("li", { class: p.severity, text: `${p.where}: ${p.what}` })));
      status.textContent = mine.length ? `${mine.filter((p) => p.severity === "error").length} error(s) in this file` : "No problems in this file.";
    }
    picker.addEventListener("change", open);
    editor.addEventListener("input", () => studio.setText(picker.value, editor.value));
    document.addEventListener("studio:checked", showProblems);
    open();
  },
});
