// Printable pages (the licensing report, the exercise pack): their Print
// button. A file of its own because the pages' CSP allows no inline script.
for (const button of document.querySelectorAll('[data-print]')) button.addEventListener('click', () => window.print());
