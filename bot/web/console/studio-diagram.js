// Diagram: the working copy's flow drawn so a person can read it. Steps are boxes (the start in
// bold, the steps that end a conversation rounded and grey), choices are arrows labelled with the
// choice's number and text in the base language, free-text routes are dashed arrows. The global
// commands (from any step) and the needs understood from free text are a legend beside it, not
// an arrow from every step; arrows back to the menu are left out unless asked for. A click on a
// step opens it in the Steps screen. Drawn by Cytoscape.js with the dagre layout, both vendored
// (vendor/README.md): canvas, no style element, so the console's CSP stays as it is.
"use strict";
(() => {
  let showMenuEdges = false;
  const BACK = "@back";
  const short = (text, n) => (text && text.length > n ? `${text.slice(0, n - 1)}…` : text || "");

  function elements(view) {
    const ids = new Set(view.steps.map((s) => s.id));
    const nodes = [];
    const edges = [];
    const missing = new Set();
    let back = false;
    for (const s of view.steps) {
      const errors = Studio.stepProblems(s.id).filter((p) => p.severity === "error").length;
      const toMenu = !showMenuEdges && s.id !== view.menu && s.choices.some((c) => c.goto === view.menu);
      const label = `${s.id}${toMenu ? "\n↩ menu" : ""}${errors ? `\n⚠ ${errors} error${errors > 1 ? "s" : ""}` : ""}`;
      const classes = [s.terminal ? "terminal" : "", s.id === view.start ? "start" : "", s.id === view.menu ? "menu" : "", errors ? "broken" : ""];
      nodes.push({ data: { id: s.id, label, width: Math.max(80, Math.min(180, 8 * s.id.length + 20)) }, classes: classes.filter(Boolean).join(" ") });
      const link = (kind, i, goto, text) => {
        if (!goto) return;
        if (goto === view.menu && s.id !== view.menu && !showMenuEdges && kind === "choice") return;
        let target = goto;
        if (goto === BACK) { target = "__back"; back = true; } else if (!ids.has(goto)) { target = `__missing_${goto}`; missing.add(goto); }
        edges.push({ data: { id: `${kind}-${s.id}-${i}`, source: s.id, target, label: text }, classes: kind });
      };
      s.choices.forEach((c, i) => link("choice", i, c.goto, `${i + 1} ${short(c.text || c.label, 22)}`));
      s.routes.forEach((r, i) => link("route", i, r.goto, short(r.match, 22)));
    }
    if (back) nodes.push({ data: { id: "__back", label: "previous step (@back)", width: 150 }, classes: "virtual" });
    for (const goto of missing) nodes.push({ data: { id: `__missing_${goto}`, label: `${goto}\n(no such step)`, width: 140 }, classes: "missing" });
    return [...nodes, ...edges];
  }

  const STYLE = [
    { selector: "node", style: {
      shape: "round-rectangle", width: "data(width)", height: 34, "background-color": "#e8eef9", "border-width": 1, "border-color": "#5b6b8c",
      label: "data(label)", "text-valign": "center", "text-halign": "center", "text-wrap": "wrap", "font-size": 11, color: "#1d2433",
    } },
    { selector: "node.start", style: { "border-width": 3, "border-color": "#1a4fa0" } },
    { selector: "node.menu", style: { "background-color": "#d7e6ff" } },
    { selector: "node.terminal", style: { shape: "ellipse", "background-color": "#eeeeee" } },
    { selector: "node.broken", style: { "border-color": "#b00020", "border-width": 3, "background-color": "#fdecea" } },
    { selector: "node.missing", style: { "background-color": "#fdecea", "border-style": "dashed", "border-color": "#b00020", color: "#b00020" } },
    { selector: "node.virtual", style: { "background-color": "#ffffff", "border-style": "dotted" } },
    { selector: "edge", style: {
      width: 1.2, "curve-style": "bezier", "target-arrow-shape": "triangle", "line-color": "#7d8799", "target-arrow-color": "#7d8799",
      label: "data(label)", "font-size": 9, color: "#394150", "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": 1,
      "text-rotation": "autorotate",
    } },
    { selector: "edge.route", style: { "line-style": "dashed" } },
  ];

  function legend(view) {
    const { el } = Studio;
    const open = (id) => el("button", { type: "button", class: "link", text: id, onclick: () => Studio.openStep(id) });
    return el("aside", { class: "diagram-legend", id: "diagram-legend", "aria-label": "Legend" },
      el("h3", { text: "From any step (global commands)" }),
      el("ul", {}, view.commands.map((c) => el("li", {}, `${c.id} (words: ${c.match}) → `, open(c.goto),
        [c.contains ? " · anywhere in a message" : "", c.remember ? " · @back returns" : "", c.restart ? " · starts over" : "", c.while_held ? " · also while an advocate holds the chat" : ""].join("")))),
      el("h3", { text: "Understood from free text" }),
      el("ul", {}, Object.entries(view.intents).map(([intent, step]) => el("li", {}, `${intent} → `, open(step)))),
      el("h3", { text: "Key" }),
      el("ul", {},
        el("li", { text: "Bold border: where a conversation starts. Ellipse: the conversation ends there. Red: a step with errors, or a target that is no step." }),
        el("li", { text: "Solid arrow: a numbered choice. Dashed arrow: free-text words (a route)." }),
        el("li", { text: showMenuEdges ? "Arrows back to the menu are drawn." : "“↩ menu”: the step has a choice back to the menu (not drawn)." }),
      ),
    );
  }

  Studio.register({
    id: "diagram",
    title: "Diagram",
    roles: ["admin", "translator"],
    async render(host, studio) {
      const { el } = studio;
      const box = el("input", { type: "checkbox", id: "diagram-menu-edges" });
      box.checked = showMenuEdges;
      const canvas = el("div", { id: "diagram", class: "diagram", role: "img", "aria-label": "The flow as a diagram; the steps are also listed in the Steps screen" });
      const side = el("div", { class: "diagram-side" });
      host.append(el("h2", { text: "Diagram" }),
        el("p", { class: "hint", text: "Click a step to open it. The drawing is of your working copy, unsaved changes included." }),
        el("label", { class: "inline" }, box, " Draw the arrows back to the menu"),
        el("div", { class: "diagram-layout" }, canvas, side));
      box.addEventListener("change", () => { showMenuEdges = box.checked; draw(); });
      if (typeof window.cytoscape !== "function") { canvas.append(el("p", { class: "error", role: "alert", text: "The diagram library did not load." })); return; }
      let view = null;
      let sequence = 0;

      function draw() {
        if (!view) return;
        side.replaceChildren(legend(view));
        if (view.error) { canvas.replaceChildren(el("p", { class: "error", role: "alert", text: view.error })); return; }
        if (Studio.diagram) Studio.diagram.destroy();
        const cy = window.cytoscape({
          container: canvas, elements: elements(view), style: STYLE, wheelSensitivity: 0.3,
          layout: { name: "dagre", rankDir: "TB", nodeSep: 18, rankSep: 60, edgeSep: 8 },
          boxSelectionEnabled: false, autoungrabify: true,
        });
        cy.on("tap", "node", (event) => {
          const id = event.target.id();
          if (!id.startsWith("__")) Studio.openStep(id);
        });
        Studio.diagram = cy; // the drawing in use (the browser tests read node positions from it)
        canvas.dataset.nodes = String(cy.nodes().length);
      }

      async function refresh() {
        const mine = ++sequence;
        let answer;
        try { answer = await studio.flowView(); } catch (error) { canvas.replaceChildren(el("p", { class: "error", role: "alert", text: error.message })); return; }
        if (mine !== sequence || !host.isConnected) return;
        view = answer;
        draw();
      }
      const onChanged = () => { if (!host.isConnected) { document.removeEventListener("studio:changed", onChanged); return; } refresh(); };
      const onChecked = () => { if (!host.isConnected) { document.removeEventListener("studio:checked", onChecked); return; } draw(); };
      document.addEventListener("studio:changed", onChanged);
      document.addEventListener("studio:checked", onChecked);
      await refresh();
    },
  });
})();
