// Diagram: the working copy's flow drawn so a person can read it. Steps are boxes (the start in
// bold, the steps that end a conversation rounded and grey), choices are arrows labelled with the
// choice's number and text in the base language, free-text routes are dashed arrows. The global
// commands (from any step) and the needs understood from free text are a legend beside it, not
// an arrow from every step; arrows back to the menu are left out unless asked for. A click on a
// step opens it in the Steps screen. Drawn by Cytoscape.js with the dagre layout, both vendored
// (vendor/README.md): canvas, no style element, so the console's CSP stays as it is.
"use strict";
(() => {
  let showHubEdges = false;  // arrows into the menu and the commands' targets (reached from anywhere anyway)
  const BACK = "@back";
  const short = (text, n) => (text && text.length > n ? `${text.slice(0, n - 1)}…` : text || "");

  /** The steps every step reaches anyway: the menu and the global commands' targets. */
  const hubs = (view) => new Set([view.menu, ...view.commands.map((c) => c.goto)].filter(Boolean));

  function elements(view) {
    const ids = new Set(view.steps.map((s) => s.id));
    const common = hubs(view);
    const nodes = [];
    const edges = [];
    const missing = new Set();
    let back = false;
    for (const s of view.steps) {
      const errors = Studio.stepProblems(s.id).filter((p) => p.severity === "error").length;
      const hidden = showHubEdges ? [] : [...new Set(s.choices.map((c) => c.goto).filter((g) => common.has(g) && g !== s.id))];
      const label = `${s.id}${hidden.length ? `\n↪ ${hidden.join(", ")}` : ""}${errors ? `\n⚠ ${errors} error${errors > 1 ? "s" : ""}` : ""}`;
      const classes = [s.terminal ? "terminal" : "", s.id === view.start ? "start" : "", common.has(s.id) ? "hub" : "", errors ? "broken" : ""];
      const widest = Math.max(s.id.length, hidden.length ? hidden.join(", ").length + 2 : 0);
      nodes.push({ data: { id: s.id, label, width: Math.max(90, Math.min(220, 7 * widest + 24)), height: 26 + 13 * label.split("\n").length }, classes: classes.filter(Boolean).join(" ") });
      const link = (kind, i, goto, text) => {
        if (!goto || (kind === "choice" && hidden.includes(goto))) return;
        let target = goto;
        if (goto === BACK) { target = "__back"; back = true; } else if (!ids.has(goto)) { target = `__missing_${goto}`; missing.add(goto); }
        edges.push({ data: { id: `${kind}-${s.id}-${i}`, source: s.id, target, label: text }, classes: kind });
      };
      s.choices.forEach((c, i) => link("choice", i, c.goto, `${i + 1} ${short(c.text || c.label, 22)}`));
      s.routes.forEach((r, i) => link("route", i, r.goto, short(r.match, 22)));
    }
    if (back) nodes.push({ data: { id: "__back", label: "previous step (@back)", width: 150, height: 30 }, classes: "virtual" });
    for (const goto of missing) nodes.push({ data: { id: `__missing_${goto}`, label: `${goto}\n(no such step)`, width: 140, height: 44 }, classes: "missing" });
    return [...nodes, ...edges];
  }

  const STYLE = [
    { selector: "node", style: {
      shape: "round-rectangle", width: "data(width)", height: "data(height)", "background-color": "#e8eef9", "border-width": 1, "border-color": "#5b6b8c",
      label: "data(label)", "text-valign": "center", "text-halign": "center", "text-wrap": "wrap", "font-size": 11, color: "#1d2433",
    } },
    { selector: "node.start", style: { "border-width": 3, "border-color": "#1a4fa0" } },
    { selector: "node.hub", style: { "background-color": "#d7e6ff" } },
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
        el("li", { text: showHubEdges ? "Every choice is drawn." : `Blue: a step every step reaches anyway (the menu, the commands' targets). “↪ ${[...hubs(view)].join(", ")}” in a box: it has a choice to that step, not drawn as an arrow.` }),
      ),
    );
  }

  Studio.register({
    id: "diagram",
    title: "Diagram",
    roles: ["admin", "translator"],
    async render(host, studio) {
      const { el } = studio;
      const box = el("input", { type: "checkbox", id: "diagram-hub-edges" });
      box.checked = showHubEdges;
      const zoom = (factor) => { const cy = Studio.diagram; if (cy) cy.zoom({ level: cy.zoom() * factor, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } }); };
      const tools = el("div", { class: "diagram-tools" },
        el("label", { class: "inline" }, box, " Draw every choice, also those to the menu and the commands' steps"),
        el("button", { type: "button", class: "quiet", text: "Zoom in", onclick: () => zoom(1.25) }),
        el("button", { type: "button", class: "quiet", text: "Zoom out", onclick: () => zoom(0.8) }),
        el("button", { type: "button", class: "quiet", text: "Whole flow", onclick: () => Studio.diagram && Studio.diagram.fit(undefined, 20) }),
      );
      const canvas = el("div", { id: "diagram", class: "diagram", role: "img", "aria-label": "The flow as a diagram; the steps are also listed in the Steps screen" });
      const side = el("div", { class: "diagram-side" });
      host.append(el("h2", { text: "Diagram" }),
        el("p", { class: "hint", text: "Click a step to open it; drag to move around, scroll to zoom. The drawing is of your working copy, unsaved changes included." }),
        tools,
        el("div", { class: "diagram-layout" }, canvas, side));
      box.addEventListener("change", () => { showHubEdges = box.checked; draw(); });
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
          boxSelectionEnabled: false, autoungrabify: true, minZoom: 0.15, maxZoom: 3,
        });
        // Readable text first: full size at the start of the flow (the whole flow is one button away).
        const first = cy.$id(view.start).length ? cy.$id(view.start) : cy.nodes().first();
        if (first.length) { cy.zoom(1); cy.pan({ x: cy.width() / 2 - first.position("x"), y: 40 - first.position("y") }); }
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
