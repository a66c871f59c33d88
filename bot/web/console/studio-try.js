// Try it: the working copy's conversation (unsaved edits included) in a chosen language, as SMS or
// Telegram would show it, with the step and what the engine understood under each reply.
// Nothing is kept: the transcript lives in this screen's memory only (never localStorage or
// sessionStorage); every message replays the whole conversation on the server
// (POST /api/content/try), which stores, sends and logs nothing.
"use strict";
Studio.register({
  id: "try",
  title: "Try it",
  render(host, studio) {
    const { el, api } = studio;
    const languages = (studio.state.overview && studio.state.overview.languages) || [];
    const all = languages.length ? languages : ["en"];
    let sent = [];      // what the person sent, oldest first: text, or {button, label} on Telegram
    let exchanges = []; // the server's answer for each

    const language = el("select", { id: "try-language" }, all.map((code) => el("option", { value: code, text: code })));
    if (all.includes("es")) language.value = "es";
    const channel = el("select", { id: "try-channel" },
      el("option", { value: "sms", text: "SMS" }), el("option", { value: "telegram", text: "Telegram" }));
    const transcript = el("ol", { id: "try-transcript", class: "phone", "aria-live": "polite", "aria-label": "Simulated conversation" });
    const input = el("input", { id: "try-input", maxlength: "1600", autocomplete: "off", placeholder: "e.g. hola" });
    const form = el("form", { class: "try-send" },
      el("label", { for: "try-input", text: "Write as the person" }), input,
      el("button", { type: "submit", text: "Send" }));
    const status = el("p", { id: "try-status", role: "status" });
    const restart = el("button", { type: "button", class: "quiet", id: "try-restart", text: "Start over" });

    host.append(
      el("h2", { text: "Try it" }),
      el("p", { class: "hint", text: "Runs your working copy, unsaved changes included. Nothing is sent to any phone or provider and nothing is kept: closing this page forgets the conversation." }),
      el("div", { class: "try-pickers" },
        el("label", { for: "try-language", text: "Language" }), language,
        el("label", { for: "try-channel", text: "Channel" }), channel, restart),
      transcript, form, status,
    );

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const message = input.value;
      if (!message.trim()) return;
      input.value = "";
      send(message);
    });
    restart.addEventListener("click", () => { sent = []; exchanges = []; draw(); status.textContent = "Started over: a new conversation."; input.focus(); });
    // Another language or channel is another conversation: replay what was written, as it would go there.
    language.addEventListener("change", () => replay());
    channel.addEventListener("change", () => { sent = sent.filter((m) => typeof m === "string"); replay(); });

    async function send(message) {
      sent.push(message);
      await replay();
    }

    async function replay() {
      if (!sent.length) { exchanges = []; draw(); return; }
      if (sent.length > 50) { status.textContent = "At most 50 messages: start over to go on."; sent.pop(); return; }
      status.textContent = "…";
      const messages = sent.map((m) => (typeof m === "string" ? m : { button: m.button }));
      try {
        const result = await api("POST", "/api/content/try", {
          base: studio.state.base, changes: studio.state.edits, language: language.value, channel: channel.value, messages,
        });
        exchanges = result.exchanges;
        status.textContent = "";
      } catch (error) {
        sent.pop();
        const problems = (error.detail && error.detail.problems) || [];
        status.textContent = `Cannot run: ${error.message}${problems.length ? ` (${problems.slice(0, 3).map((p) => `${p.where}: ${p.what}`).join("; ")})` : ""}`;
      }
      draw();
    }

    function draw() {
      const items = [];
      sent.forEach((message, i) => {
        items.push(el("li", { class: "bubble person" },
          el("span", { class: "sr", text: "The person: " }),
          typeof message === "string" ? message : message.label));
        const exchange = exchanges[i];
        if (!exchange) return;
        for (const reply of exchange.replies) items.push(replyBubble(reply, exchange));
        items.push(el("li", { class: "meta" }, describe(exchange)));
        if (exchange.ended) items.push(el("li", { class: "meta ended", text: endedText(exchange.ended) }));
      });
      transcript.replaceChildren(...items);
      transcript.scrollTop = transcript.scrollHeight;
    }

    function replyBubble(reply, exchange) {
      const bubble = el("li", { class: `bubble bot ${channel.value}` }, el("span", { class: "sr", text: "Reply: " }),
        el("div", { class: "bubble-text", text: reply.text }));
      if (reply.segments !== undefined) {
        bubble.append(el("div", { class: "bubble-cost", text: `${reply.segments} SMS segment${reply.segments === 1 ? "" : "s"} · ${reply.encoding} · ${reply.characters} characters` }));
      }
      if (reply.buttons && reply.buttons.length) {
        const latest = exchange === exchanges[exchanges.length - 1];
        bubble.append(el("div", { class: "buttons" }, reply.buttons.map((b) => el("button", {
          type: "button", class: "tg-button", text: b.text, title: latest ? "Press, as the person would" : "An older message's button",
          onclick: () => send({ button: b.data, label: b.text }),
        }))));
      }
      return bubble;
    }

    function describe(exchange) {
      const u = exchange.understood || {};
      const parts = [];
      parts.push(exchange.step ? `Step: ${exchange.step}` : "No step (nothing kept)");
      if (exchange.language) parts.push(`language ${exchange.language}`);
      let why = u.as ? `Understood as: ${u.as}` : "";
      if (u.intent) why += ` (${u.intent})`;
      if (u.command) why += ` (${u.command})`;
      if (u.choice) why += ` ${u.choice} "${u.label}"`;
      if (u.option) why += ` ${u.option}`;
      if (u.goto) why += ` to ${u.goto}`;
      if (u.guesses && u.guesses.length) why += `: ${u.guesses.join(", ")}`;
      if (u.why) why += ` · ${u.why}`;
      if (why) parts.push(why);
      if (exchange.events && exchange.events.length) parts.push(`events: ${exchange.events.join(", ")}`);
      return el("span", { class: "step-meta", text: parts.join(" · ") });
    }

    function endedText(ended) {
      if (ended === "erased") return "Quick exit: the conversation is erased. A next message starts a new one.";
      if (ended === "opted_out") return "A carrier opt-out word: the carrier blocks the number; no reply reaches the phone and the conversation is erased.";
      return "The conversation ended: nothing is kept. A next message starts a new one.";
    }

    draw();
  },
});
