// Steps: a flow's steps in a form (messages with the base language's text beside each key,
// choices with label, match words and target, free-text routes), adding and removing steps, and
// the whole flow file as YAML for power users. Every change goes through the shell's working copy
// (Studio.edit / Studio.setText), which checks it at once; the problems the check finds for a
// step (`steps.<id>` in a problem's where) are shown beside that step.
// Other screens open a step with `Studio.openStep(id)` (the Diagram does on a click).
"use strict";
(() => {
  const FLOW = "main";
  const STEP_ID = /^[a-z][a-z0-9_]*$/;
  const KEY = /^[a-z0-9_]+(\.[a-z0-9_]+)*$/;
  let selected = null;     // the step shown in the form
  let yamlMode = false;

  Studio.openStep = (id) => {
    if (Studio.state.me.role !== "admin") { Studio.say(`Step ${id}: steps are edited by admins.`); return; }
    selected = id; yamlMode = false; Studio.show("steps");
  };

  /** The flow of the working copy, structured by the server (POST /api/content/flow-view). */
  Studio.flowView = (flow = FLOW) => Studio.api("POST", "/api/content/flow-view", { base: Studio.state.base, changes: Studio.state.edits, flow });

  /** The problems whose `where` names step `id` (flows/main.yaml: steps.<id>...). */
  Studio.stepProblems = (id) => Studio.state.problems.filter((p) => new RegExp(`(^|[\\s:])steps\\.${id}($|[.\\[\\s])`).test(p.where));

  /** Everything in `view` that leads to step `id`: choices, routes, commands, intents, start, menu. */
  function pointingAt(view, id) {
    const found = [];
    for (const s of view.steps) {
      if (s.id === id) continue;
      s.choices.forEach((c, i) => { if (c.goto === id) found.push(`step ${s.id}, choice ${i + 1}`); });
      s.routes.forEach((r, i) => { if (r.goto === id) found.push(`step ${s.id}, route ${i + 1}`); });
    }
    view.commands.forEach((c) => { if (c.goto === id) found.push(`the command "${c.id}"`); });
    for (const [intent, step] of Object.entries(view.intents)) if (step === id) found.push(`the intent "${intent}"`);
    if (view.start === id) found.push("the flow's start");
    if (view.menu === id) found.push("the flow's menu");
    return found;
  }

  Studio.register({
    id: "steps",
    title: "Steps",
    roles: ["admin"],
    async render(host, studio) {
      const { el } = studio;
      let view = null;
      let sequence = 0;
      const toggle = el("button", { type: "button", class: "quiet", id: "steps-yaml-toggle" });
      const side = el("nav", { class: "steps-list", "aria-label": "Steps" });
      const main = el("div", { class: "step-form", id: "step-form" });
      host.append(el("h2", { text: "Steps" }), toggle, el("div", { class: "steps-layout" }, side, main));
      toggle.addEventListener("click", () => { yamlMode = !yamlMode; draw(); });

      async function refresh() {
        const mine = ++sequence;
        let answer;
        try { answer = await studio.flowView(); } catch (error) { main.replaceChildren(el("p", { class: "error", role: "alert", text: error.message })); return; }
        if (mine !== sequence || !host.isConnected) return;
        view = answer;
        if (!selected || !view.steps.some((s) => s.id === selected)) selected = view.start && view.steps.some((s) => s.id === view.start) ? view.start : (view.steps[0] || {}).id;
        draw();
      }

      const onChanged = () => { if (!host.isConnected) { document.removeEventListener("studio:changed", onChanged); return; } refresh(); };
      // A check's answer updates the problems shown, never the inputs (what is being typed stays).
      const onChecked = () => { if (!host.isConnected) { document.removeEventListener("studio:checked", onChecked); return; } if (view && !yamlMode && !view.error) drawProblems(); };
      document.addEventListener("studio:changed", onChanged);
      document.addEventListener("studio:checked", onChecked);

      // One change to the flow file, then the view is fetched again (on "studio:changed").
      async function editFlow(edits) {
        try { await studio.edit(view.file, edits); } catch (error) { studio.say(`Not changed: ${error.message}`, true); }
      }
      async function editText(key, value) {
        try { await studio.edit(`locales/${view.language}.yaml`, [{ path: ["text", key], value }]); } catch (error) { studio.say(`Not changed: ${error.message}`, true); }
      }

      function draw() {
        if (!view) return; // not fetched yet: refresh() draws it
        const focused = document.activeElement && document.activeElement.id;
        toggle.textContent = yamlMode ? "Back to the form" : "Edit as YAML";
        if (yamlMode || view.error) { drawYaml(); } else { drawList(); drawStep(); }
        side.hidden = yamlMode || !!view.error;
        if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
      }

      function drawYaml() {
        const area = el("textarea", { id: "steps-yaml", class: "yaml", rows: "30", spellcheck: "false", "aria-label": `${view.file} as YAML` });
        area.value = studio.text(view.file) || "";
        const apply = el("button", { type: "button", id: "steps-yaml-apply", text: "Use this text" });
        apply.addEventListener("click", () => studio.setText(view.file, area.value));
        main.replaceChildren(
          view.error ? el("p", { class: "error", role: "alert", text: view.error }) : null,
          el("p", { class: "hint", text: `The whole of ${view.file}. Texts are keys into locales/*.yaml. It is checked when you use it; problems are listed above.` }),
          area, apply,
        );
      }

      function errorBadge(id) {
        const count = studio.stepProblems(id).filter((p) => p.severity === "error").length;
        return count ? el("span", { class: "badge error-count", text: `${count} error${count > 1 ? "s" : ""}` }) : null;
      }

      function problemItems(id) {
        return studio.stepProblems(id).map((p) => el("li", { class: p.severity, text: `${p.severity === "error" ? "Error" : "Warning"}: ${p.where.replace(/^.*?steps\./, "steps.")}: ${p.what}` }));
      }

      function drawProblems() {
        for (const button of side.querySelectorAll("[data-step]")) {
          const old = button.querySelector(".error-count");
          if (old) old.remove();
          const badge = errorBadge(button.dataset.step);
          if (badge) button.append(badge);
        }
        const list = document.getElementById("step-problems");
        if (list && selected) list.replaceChildren(...problemItems(selected));
      }

      function drawList() {
        const items = view.steps.map((s) => el("li", {}, el("button", {
          type: "button", class: s.id === selected ? "step-link current" : "step-link", "data-step": s.id,
          "aria-current": s.id === selected ? "true" : null, onclick: () => { selected = s.id; draw(); },
        }, s.id, errorBadge(s.id))));
        const newId = el("input", { id: "new-step-id", placeholder: "new_step_id", "aria-label": "New step id", maxlength: "60" });
        const addForm = el("form", { class: "add-step" }, newId, el("button", { type: "submit", text: "Add a step" }));
        addForm.addEventListener("submit", async (event) => {
          event.preventDefault();
          const id = newId.value.trim();
          if (!STEP_ID.test(id)) { studio.say("A step id is lowercase letters, digits and _, starting with a letter (e.g. help_food).", true); return; }
          if (view.steps.some((s) => s.id === id)) { studio.say(`There is a step ${id} already.`, true); return; }
          selected = id;
          await editFlow([{ path: ["steps", id], value: { say: [] } }]);
        });
        side.replaceChildren(el("ul", {}, items), addForm);
      }

      function targetSelect(value, label, id) {
        const select = el("select", { "aria-label": label, id });
        const ids = view.steps.map((s) => s.id);
        if (value && value !== "@back" && !ids.includes(value)) select.append(el("option", { value, text: `${value} (no such step)` }));
        for (const target of ids) select.append(el("option", { value: target, text: target }));
        select.append(el("option", { value: "@back", text: "@back (the step before a command)" }));
        select.value = value || ids[0];
        return select;
      }

      function keyInput(value, label, id, onchange) {
        const input = el("input", { value: value || "", "aria-label": label, id, class: "key", spellcheck: "false" });
        input.addEventListener("change", () => {
          const key = input.value.trim();
          if (key && !KEY.test(key)) { studio.say(`${key} is not a text key (lowercase words joined by dots, e.g. menu.intro).`, true); return; }
          onchange(key);
        });
        return input;
      }

      function drawStep() {
        const step = view.steps.find((s) => s.id === selected);
        if (!step) { main.replaceChildren(el("p", { text: "No steps yet: add one." })); return; }
        const at = ["steps", step.id];
        const parts = [el("h3", { text: `Step ${step.id}` })];
        const roles = [];
        if (view.start === step.id) roles.push("the conversation starts here");
        if (view.menu === step.id) roles.push("the menu");
        if (step.terminal) roles.push("ends the conversation");
        if (roles.length) parts.push(el("p", { class: "hint", text: roles.join("; ") }));
        parts.push(el("ul", { class: "step-problems", id: "step-problems", "aria-live": "polite" }, problemItems(step.id)));

        // Messages
        const say = el("fieldset", { class: "step-say" }, el("legend", { text: `Messages (text in ${view.language}; joined into one reply)` }));
        step.say.forEach((m, i) => {
          const text = el("textarea", { rows: "3", "aria-label": `Text of ${m.key}`, id: `say-text-${i}` });
          text.value = m.text === null || m.text === undefined ? "" : m.text;
          text.addEventListener("change", () => editText(m.key, text.value));
          say.append(el("div", { class: "row" },
            keyInput(m.key, `Message ${i + 1} key`, `say-key-${i}`, (key) => editFlow([{ path: [...at, "say", i], value: key }])),
            m.text === null || m.text === undefined ? el("span", { class: "warning", text: `no ${view.language} text yet` }) : null,
            text,
            el("button", { type: "button", class: "quiet", text: "Remove", "aria-label": `Remove message ${i + 1}`, onclick: () => editFlow([{ path: [...at, "say", i], delete: true }]) }),
          ));
        });
        const newKey = keyInput("", "New message key", "say-new", (key) => {
          if (key) editFlow([step.say.length ? { path: [...at, "say", step.say.length], value: key } : { path: [...at, "say"], value: [key] }]);
        });
        say.append(el("div", { class: "row" }, el("label", { text: "Add a message by its key " }, newKey)));
        parts.push(say);

        // Choices
        const choices = el("fieldset", { class: "step-choices" }, el("legend", { text: "Choices (numbered on SMS, buttons on Telegram)" }));
        if (step.shares_choices_with.length) choices.append(el("p", { class: "hint", text: `These choices are one list shared with ${step.shares_choices_with.join(", ")} (a YAML anchor): a change here changes them there too.` }));
        step.choices.forEach((c, i) => {
          const goto = targetSelect(c.goto, `Choice ${i + 1} goes to`, `choice-goto-${i}`);
          goto.addEventListener("change", () => editFlow([{ path: [...at, "choices", i, "goto"], value: goto.value }]));
          choices.append(el("div", { class: "row choice", "data-choice": String(i) },
            el("span", { class: "num", text: `${i + 1}.` }),
            keyInput(c.label, `Choice ${i + 1} label key`, `choice-label-${i}`, (key) => editFlow([{ path: [...at, "choices", i, "label"], value: key }])),
            el("span", { class: "base-text", text: c.text === null || c.text === undefined ? `(no ${view.language} text)` : `“${c.text}”` }),
            keyInput(c.match, `Choice ${i + 1} match words key`, `choice-match-${i}`, (key) => editFlow([key ? { path: [...at, "choices", i, "match"], value: key } : { path: [...at, "choices", i, "match"], delete: true }])),
            el("span", { text: "→" }), goto,
            c.actions.length ? el("span", { class: "hint", text: `and ${c.actions.map((a) => a.type).join(", ")}` }) : null,
            el("button", { type: "button", class: "quiet", text: "Remove", "aria-label": `Remove choice ${i + 1}`, onclick: () => editFlow([{ path: [...at, "choices", i], delete: true }]) }),
          ));
        });
        const label = el("input", { id: "choice-new-label", class: "key", placeholder: "label key, e.g. choice.menu", "aria-label": "New choice label key" });
        const match = el("input", { id: "choice-new-match", class: "key", placeholder: "match key (optional)", "aria-label": "New choice match words key" });
        const goto = targetSelect(view.menu, "New choice goes to", "choice-new-goto");
        const add = el("form", { class: "row" }, label, match, el("span", { text: "→" }), goto, el("button", { type: "submit", text: "Add choice" }));
        add.addEventListener("submit", (event) => {
          event.preventDefault();
          const choice = { label: label.value.trim(), goto: goto.value };
          if (!KEY.test(choice.label)) { studio.say("A choice needs a label key (e.g. choice.menu).", true); return; }
          if (match.value.trim()) {
            if (!KEY.test(match.value.trim())) { studio.say(`${match.value.trim()} is not a text key.`, true); return; }
            choice.match = match.value.trim();
          }
          const ordered = { label: choice.label, ...(choice.match ? { match: choice.match } : {}), goto: choice.goto };
          editFlow([step.choices.length ? { path: [...at, "choices", step.choices.length], value: ordered } : { path: [...at, "choices"], value: [ordered] }]);
        });
        choices.append(add);
        parts.push(choices);

        // Routes
        const routes = el("fieldset", { class: "step-routes" }, el("legend", { text: "Routes (free text with these match words goes to)" }));
        step.routes.forEach((r, i) => {
          const target = targetSelect(r.goto, `Route ${i + 1} goes to`, `route-goto-${i}`);
          target.addEventListener("change", () => editFlow([{ path: [...at, "routes", i, "goto"], value: target.value }]));
          routes.append(el("div", { class: "row" },
            keyInput(r.match, `Route ${i + 1} match words key`, `route-match-${i}`, (key) => editFlow([{ path: [...at, "routes", i, "match"], value: key }])),
            el("span", { text: "→" }), target,
            el("button", { type: "button", class: "quiet", text: "Remove", "aria-label": `Remove route ${i + 1}`, onclick: () => editFlow([{ path: [...at, "routes", i], delete: true }]) }),
          ));
        });
        const routeMatch = el("input", { id: "route-new-match", class: "key", placeholder: "match key", "aria-label": "New route match words key" });
        const routeGoto = targetSelect(view.menu, "New route goes to", "route-new-goto");
        const addRoute = el("form", { class: "row" }, routeMatch, el("span", { text: "→" }), routeGoto, el("button", { type: "submit", text: "Add route" }));
        addRoute.addEventListener("submit", (event) => {
          event.preventDefault();
          const route = { match: routeMatch.value.trim(), goto: routeGoto.value };
          if (!KEY.test(route.match)) { studio.say("A route needs a match words key.", true); return; }
          editFlow([step.routes.length ? { path: [...at, "routes", step.routes.length], value: route } : { path: [...at, "routes"], value: [route] }]);
        });
        routes.append(addRoute);
        parts.push(routes);

        if (step.actions.length) {
          parts.push(el("fieldset", {}, el("legend", { text: "Actions (edit them in the YAML view)" }),
            el("ul", {}, step.actions.map((a) => el("li", { text: Object.entries(a).map(([k, v]) => (k === "type" ? v : `${k}: ${JSON.stringify(v)}`)).join(", ") })))));
        }

        const remove = el("button", { type: "button", class: "danger", id: "step-remove", text: `Remove step ${step.id}` });
        remove.addEventListener("click", () => {
          const refs = pointingAt(view, step.id);
          const warning = refs.length
            ? `These lead to ${step.id} and will be errors until you change them:\n- ${refs.join("\n- ")}\n\nRemove ${step.id} anyway?`
            : `Remove step ${step.id}? Nothing leads to it.`;
          if (!window.confirm(warning)) return;
          selected = null;
          editFlow([{ path: ["steps", step.id], delete: true }]);
        });
        parts.push(remove);
        main.replaceChildren(...parts);
      }

      await refresh();
    },
  });
})();
