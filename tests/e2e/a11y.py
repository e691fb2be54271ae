"""Accessibility basics checked in the browser: what a screen reader and a keyboard need."""

from __future__ import annotations

from playwright.sync_api import Page

# Returns a list of problems on the current page: `lang`, one <h1>, labelled form controls,
# named links and buttons, and WCAG AA text contrast (4.5:1, 3:1 for large text).
PAGE_PROBLEMS_JS = """
() => {
  const problems = [];
  const visible = (el) =>
    el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  if (!document.documentElement.lang) problems.push("<html> has no lang");
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push(`${h1} <h1> elements`);
  const buttons = ["hidden", "submit", "button", "reset", "image"];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (buttons.includes(el.type)) continue;
    const named =
      el.labels.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!named) problems.push(`unlabelled <${el.tagName.toLowerCase()} name=${el.name}>`);
  }
  for (const el of document.querySelectorAll("a[href], button, input[type=submit]")) {
    const name = el.textContent.trim() || el.value || el.getAttribute("aria-label");
    if (!name) problems.push(`nameless ${el.outerHTML.slice(0, 80)}`);
  }
  const rgba = (c) => {
    const p = c.match(/[\\d.]+/g).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) =>
    [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1);
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reverse().reduce((acc, layer) => over(layer, acc), [255, 255, 255, 1]);
  };
  const luminance = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  for (const el of document.body.querySelectorAll("*")) {
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!text || !visible(el) || el.disabled || el.closest(".visually-hidden, .skip")) continue;
    const style = getComputedStyle(el);
    const bg = background(el);
    const fg = over(rgba(style.color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      problems.push(`contrast ${ratio.toFixed(2)} on "${el.textContent.trim().slice(0, 40)}"`);
    }
  }
  return problems;
}
"""

# Marks every visible, enabled action (button or button-styled link) and returns how many
# elements can take focus, so the caller knows how many Tab presses cycle the page.
MARK_ACTIONS_JS = """
() => {
  const visible = (el) =>
    el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const actions = [...document.querySelectorAll("button, a.button, input[type=submit]")]
    .filter((el) => visible(el) && !el.disabled);
  actions.forEach((el, i) => { el.dataset.action = String(i); });
  const focusable = document.querySelectorAll("a[href], button, input, select, textarea");
  document.activeElement && document.activeElement.blur();
  return [actions.map((el) => el.textContent.trim().replace(/\\s+/g, " ")), focusable.length];
}
"""


def page_problems(page: Page) -> list[str]:
    return list(page.evaluate(PAGE_PROBLEMS_JS))


def unreachable_by_tab(page: Page) -> list[str]:
    """Names of the page's actions that pressing Tab never focuses."""
    names, focusable = page.evaluate(MARK_ACTIONS_JS)
    reached: set[str] = set()
    for _ in range(focusable + 3):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.dataset.action || ''"))
    return [name for i, name in enumerate(names) if str(i) not in reached]
