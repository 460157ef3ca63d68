// Building the page: elements from tags, attributes and children, where every string
// becomes a text node. Nothing here parses markup, so text from the service cannot
// inject any.

const BOOLEAN = new Set(['disabled', 'hidden', 'required', 'checked', 'open', 'readonly', 'autofocus'])

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value)
    } else if (name === 'class') {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value
    } else if (name === 'value') {
      el.value = value
    } else if (BOOLEAN.has(name)) {
      el.toggleAttribute(name, Boolean(value))
    } else {
      el.setAttribute(name, String(value))
    }
  }
  append(el, children)
  return el
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue
    el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return el
}

/** Replaces the content of `el`. */
export function replace(el, ...children) {
  el.replaceChildren()
  return append(el, children)
}

let announcer = null

/** Tells screen readers about a change without moving focus. */
export function announce(text) {
  announcer ??= document.getElementById('announcer')
  if (!announcer) return
  announcer.textContent = ''
  // A new text node, a moment later, is announced even when the text repeats.
  setTimeout(() => {
    announcer.textContent = text
  }, 50)
}
