package demoapp

import "net/http"

// livePage is a page that asks the app for the signed-in user with fetch(),
// as a single-page app does: on load and on "Refresh". Behind hubgate in
// enforce mode, once the session has ended (signed out elsewhere, expired,
// ended by an operator) hubgate answers the fetch with 401 and a JSON body
// naming the sign-in URL, and the page shows "Signed out — sign in again"
// with that link instead of parsing the hub's HTML login page.
const livePage = `<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Legacy App — live</title>
<link rel="stylesheet" href="/assets/style.css"></head><body><main>
<h1>Legacy App <small>(live)</small></h1>
<p>This page asks <code>/api/status</code> with <code>fetch()</code>, as a script of the legacy app would.</p>
<p id="status">Loading…</p>
<p><button id="refresh" type="button">Refresh</button> <a href="/">Start page</a></p>
<script>
async function refresh() {
  const out = document.getElementById('status');
  out.textContent = 'Loading…';
  try {
    const r = await fetch('/api/status', {headers: {'Accept': 'application/json'}});
    const body = await r.json();
    if (r.status === 401) {
      out.textContent = '';
      out.className = 'err';
      out.append('Signed out — ');
      const a = document.createElement('a');
      a.id = 'signin-again';
      a.textContent = 'sign in again';
      // hubgate names its sign-in URL, returning to this page.
      a.href = typeof body.login_url === 'string' && body.login_url.startsWith('/_hubgate/login') ? body.login_url : '/_hubgate/login?rd=%2Flive';
      out.append(a);
      return;
    }
    const user = (body.headers || {})['X-Hubgate-User'];
    out.className = 'ok';
    out.textContent = user ? 'Signed in as legacy user ' + user + ' (' + r.status + ')' : 'Not signed in through hubgate (' + r.status + ')';
  } catch (e) {
    out.className = 'err';
    out.textContent = 'The request failed: ' + e;
  }
}
document.getElementById('refresh').addEventListener('click', refresh);
refresh();
</script>
</main></body></html>`

func (a *App) live(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(livePage))
}
