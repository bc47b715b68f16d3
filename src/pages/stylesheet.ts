/**
 * The one stylesheet of the gateway's pages, served from the gateway's own origin because the
 * pages' CSP allows `style-src 'self'` only (no inline styles). Its URL carries a version so it can
 * be cached for a long time; change STYLESHEET_VERSION when the rules change.
 */
export const STYLESHEET_VERSION = '5'
export const STYLESHEET_PATH = '/auth/assets/gateway.css'

export const STYLESHEET = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #f6f8fa; --card: #fff;
  --line: #d0d7de; --accent: #0b57d0; --accent-fg: #fff; --error: #b3261e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9da7b3; --bg: #0d1117;
  --card: #161b22; --line: #30363d; --accent: #4c8dff; --accent-fg: #0d1117; --error: #ff8a80; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
main { max-width: 26rem; margin: 8vh auto; padding: 2rem; background: var(--card);
  border: 1px solid var(--line); border-radius: 12px; }
main.wide { max-width: 56rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
.lead, .muted { color: var(--muted); margin-top: 0; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=text], input[type=password], input[type=email] { width: 100%; padding: .6rem .7rem; font: inherit;
  color: inherit; background: transparent; border: 1px solid var(--line); border-radius: 8px; }
input[aria-invalid=true] { border-color: var(--error); }
label.check { display: flex; gap: .5rem; align-items: center; font-weight: 400; }
button, .button { display: inline-block; margin-top: 1.25rem; padding: .6rem 1rem; font: inherit;
  font-weight: 600; color: var(--accent-fg); background: var(--accent); border: 0; border-radius: 8px;
  cursor: pointer; text-decoration: none; }
button.secondary { color: var(--fg); background: transparent; border: 1px solid var(--line); margin-top: 0; }
form.inline { display: inline; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.error { color: var(--error); font-weight: 600; }
[hidden] { display: none !important; }
input.name { width: auto; min-width: 12rem; }
.providers { border-top: 1px solid var(--line); margin-top: 1.5rem; padding-top: 1rem; }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
th, td { text-align: left; padding: .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.badge { font-size: .8rem; padding: .1rem .4rem; border: 1px solid var(--line); border-radius: 999px; }
h2 { font-size: 1.15rem; margin: 1.75rem 0 .25rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
/* Emailed links are one long token: they wrap anywhere rather than leave the card. */
.mail a { overflow-wrap: anywhere; }
.actions { display: flex; flex-wrap: wrap; align-items: center; gap: .75rem; margin-top: 1rem; }
.actions > button, .actions > .button { margin-top: 0; }
@media (max-width: 40rem) { main { margin: 0; border-radius: 0; border: 0; min-height: 100vh; padding: 1.25rem; }
  thead { display: none; } tr, td { display: block; } td { border: 0; padding: .2rem 0; }
  tr { border-bottom: 1px solid var(--line); padding: .5rem 0; } }
`
