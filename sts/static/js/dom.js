// Small DOM helpers: elements built from data, never from HTML strings (no injection).

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A small form asking for a note, with confirm and cancel; resolves with the note or null. */
export function askNote(container, { label, action, required = false, placeholder = "" }) {
  return new Promise((resolve) => {
    const input = el("textarea", { rows: 2, placeholder, "aria-label": label, required });
    const error = el("p", { class: "error", role: "alert" });
    const done = (value) => {
      form.remove();
      resolve(value);
    };
    const form = el(
      "form",
      {
        class: "note-form",
        onsubmit: (ev) => {
          ev.preventDefault();
          const note = input.value.trim();
          if (required && !note) {
            error.textContent = "Please give a reason.";
            input.focus();
            return;
          }
          done(note);
        },
        onkeydown: (ev) => {
          if (ev.key === "Escape") done(null);
        },
      },
      el("label", { text: label }),
      input,
      el(
        "div",
        { class: "row" },
        el("button", { type: "submit", class: "primary", text: action }),
        el("button", { type: "button", class: "quiet", text: "Cancel", onclick: () => done(null) }),
      ),
      error,
    );
    container.append(form);
    input.focus();
  });
}

/** Replace a node's children (arrays flattened, null and false left out). */
export function fill(node, ...children) {
  const kids = children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
  node.replaceChildren(...kids);
}
