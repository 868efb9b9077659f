// Refreshes the pair's status every few seconds (the page reads fine without it: a link
// refreshes by hand). Fetches the page again and swaps in its #live section.
(function () {
  const live = document.getElementById("live");
  if (!live) return;
  const seconds = Number(live.dataset.refreshSeconds) || 5;
  setInterval(async function () {
    try {
      const answer = await fetch(window.location.href, { credentials: "same-origin" });
      if (!answer.ok || answer.redirected) return;
      const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
      const section = fresh.getElementById("live");
      if (section) live.innerHTML = section.innerHTML;
    } catch (error) {
      // Offline for a moment: the next round tries again.
    }
  }, seconds * 1000);
})();
