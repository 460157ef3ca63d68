// Screens for when something is wrong: a message a person understands and a way on.

import { h } from '../dom.js'

/** `{title, message, action: {label, run}}`. */
export function errorView(ctx, { title, message, action }, root) {
  root.append(
    h('section', { class: 'panel notice error-panel', 'aria-labelledby': 'error-title' },
      h('h1', { id: 'error-title' }, title),
      h('p', {}, message),
      action ? h('button', { type: 'button', class: 'primary', onclick: action.run }, action.label) : null
    )
  )
}

export function unpairedView(ctx, _params, root) {
  root.append(
    h('section', { class: 'panel notice error-panel', 'aria-labelledby': 'unpaired-title' },
      h('h1', { id: 'unpaired-title' }, 'This device is no longer paired'),
      h('p', {},
        'The service does not accept this device any more: the owner removed it, or its permission to approve ended. ',
        'It can approve nothing until it is paired again.'),
      h('p', {}, 'To pair again, run ', h('code', {}, 'countersign device pair'), ' on the owner’s computer.'),
      h('button', {
        type: 'button',
        class: 'primary',
        onclick: async () => {
          await ctx.forget()
          ctx.go('#/pair')
        },
      }, 'Pair again')
    )
  )
}
