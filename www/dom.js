// @ts-check
// The DOM helpers the page's modules share.

/**
 * A new element with properties assigned and children appended.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any>} [props]
 * @param {(Node | string)[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/**
 * A plain button: its label, what a click does, and its tooltip.
 * @param {string} text
 * @param {() => void} onclick
 * @param {string} title
 */
export const button = (text, onclick, title) => el('button', { type: 'button', textContent: text, title, onclick });
