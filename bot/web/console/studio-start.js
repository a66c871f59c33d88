// Loaded last: every screen has registered by now.
"use strict";
document.addEventListener("DOMContentLoaded", () => Studio.start());
