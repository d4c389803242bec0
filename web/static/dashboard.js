// gist-scheduler dashboard: the little behaviour that needs a script. Served from /static (the
// CSP forbids inline script). Everything here is an enhancement: the pages work without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const element of document.querySelectorAll(".js-only")) {
    element.hidden = false;
  }

  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      if (!input) return;
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Selected: press Ctrl+C";
      }
    });
  }

  for (const button of document.querySelectorAll("[data-print]")) {
    button.addEventListener("click", () => window.print());
  }

  // A page showing events that wait for processing asks the server every second or so whether they
  // are processed, and reloads once they are (for about three minutes; the "Reload" link stays).
  const poll = document.querySelector("[data-poll]");
  if (poll) {
    let tries = 0;
    const check = async () => {
      tries += 1;
      try {
        const answer = await fetch(poll.dataset.poll, { headers: { Accept: "application/json" } });
        if (answer.status === 401 || answer.status === 404) return;
        if (answer.ok && (await answer.json()).pending_events === 0) {
          window.location.reload();
          return;
        }
      } catch {
        // the server is restarting or the network dropped: try again below
      }
      if (tries < 80) window.setTimeout(check, tries < 30 ? 1000 : 5000);
    };
    window.setTimeout(check, 1000);
  }

  // Move focus to the first field with an error, so keyboard and screen-reader users land on it.
  const invalid = document.querySelector("[aria-invalid='true']");
  if (invalid) invalid.focus();
});
