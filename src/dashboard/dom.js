// The few DOM helpers every view uses.
export const $ = (selector) => document.querySelector(selector);

/** A table row of text cells; a cell given as a Node is put in as it is. */
export function row(values) {
  const tr = document.createElement('tr');
  for (const value of values) {
    const td = document.createElement('td');
    if (value instanceof Node) td.appendChild(value);
    else td.textContent = String(value ?? '');
    tr.appendChild(td);
  }
  return tr;
}

/** The row a table shows when it has nothing to list. */
export function emptyRow(columns, text) {
  const tr = row([text]);
  tr.className = 'empty';
  tr.firstChild.colSpan = columns;
  return tr;
}

export function localTime(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}
