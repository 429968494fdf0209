// Problems as people read them: the server's errors[] put next to the
// fields they are about (in the current language, by their stable code),
// and an import's bad rows listed one by one.

import { t } from './i18n.js';
import { el } from './dom.js';

/** A field error's words, by its code (the server's own message is English only). */
export function codeMessage(code, field = '') {
  switch (code) {
    case 'looks-like-personal-data':
    case 'personal-identifiers-suspected':
      // Free text about a place (a note, a decision, an action) rather than a role.
      return ['note', 'text', 'what'].includes(field) ? t('errPersonalNote') : t('errPersonal');
    case 'invalid-date':
      return t('errDate');
    case 'unknown-link':
      return t('errUnknown');
    case 'invalid-length':
      return t('errLength');
    case 'not-in-vocabulary':
    case 'unknown-category':
    case 'area-or-geometry':
      return t('errChoose');
    case 'invalid-email':
      return t('errEmail');
    case 'no-email-address':
      return t('errNoEmail');
    case 'email-unavailable':
      return t('errNoRelay');
    case 'too-many-subscriptions':
      return t('errTooManySubscriptions');
    case 'missing-field':
    case 'required':
      return t('errMissing');
    case 'invalid-reference':
    case 'invalid-code':
      return t('errReference');
    case 'duplicate-code':
      return t('errDuplicate');
    case 'outside-service-area':
    case 'out-of-range':
      return t('errOutside');
    default:
      if (/longitude|latitude|geometry|coordinates/.test(field)) return t('errShape');
      return t('errCheck');
  }
}

/** The errors of a problem: its `errors[]`, or its one `field` and `code`. */
export function problemErrors(problem) {
  if (Array.isArray(problem?.errors) && problem.errors.length) return problem.errors;
  if (problem?.field) return [{ field: problem.field, code: problem.code, message: problem.detail }];
  return [];
}

/** The input, select or textarea with this id (not a fieldset or a paragraph). */
function formControl(id) {
  const node = document.getElementById(id);
  return node?.matches('input, select, textarea') ? node : null;
}

/** Empties a form's field errors (`.field-error` elements named `<control id>-error`). */
export function clearFieldErrors(form) {
  for (const box of form.querySelectorAll('.field-error')) {
    box.textContent = '';
    const control = formControl(box.id.replace(/-error$/, ''));
    if (control) {
      control.removeAttribute('aria-invalid');
      const described = new Set((control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean));
      described.add(box.id);
      control.setAttribute('aria-describedby', [...described].join(' '));
    }
  }
}

/**
 * Puts each error next to its field: `#<prefix><target>-error`, where
 * `fieldMap` turns a server field into a target (default: the field
 * itself). Returns the errors no field took, and focuses the first field
 * that has one.
 */
export function showFieldErrors(prefix, errors, fieldMap = {}) {
  const left = [];
  let first = null;
  for (const error of errors) {
    const target = fieldMap[error.field] ?? error.field;
    const box = document.getElementById(`${prefix}${target}-error`);
    if (!box) {
      left.push(error);
      continue;
    }
    const words = codeMessage(error.code, error.field);
    if (!box.textContent.includes(words)) box.textContent = box.textContent ? `${box.textContent} ${words}` : words;
    const control = formControl(`${prefix}${target}`);
    if (control) control.setAttribute('aria-invalid', 'true');
    first ??= control || box;
  }
  if (first) {
    if (!first.matches('input, select, textarea, button, [tabindex]')) first.setAttribute('tabindex', '-1');
    first.focus();
  }
  return left;
}

/** `rows[3].kind` as "Row 3, kind"; `features[2].geometry` as "Feature 2, geometry". */
function where(field) {
  const match = /^(rows|features)\[(\d+)\]\.?(.*)$/.exec(field || '');
  if (!match) return field || t('importWholeFile');
  const key = match[1] === 'rows' ? 'importRow' : 'importFeature';
  return t(key, { n: match[2], field: match[3] || '—' });
}

/** A list of an import's bad rows, each with where it is and what is wrong. */
export function importErrorList(errors) {
  return el('ul', { class: 'import-errors' }, ...errors.map((error) => el('li', {},
    el('strong', { text: where(error.field) }), ` — ${codeMessage(error.code, error.field)}`)));
}

/** What an import file is, by its name or type: CSV or GeoJSON. */
export function fileContentType(file) {
  return /\.csv$/i.test(file.name) || file.type === 'text/csv' ? 'text/csv' : 'application/geo+json';
}
