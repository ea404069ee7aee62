package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserWCAGCheck proves the checker the walks use: a page that
// breaks each rule is found out rule by rule and element by element, the
// exemptions (a link in a sentence, a wide table in a .scroll wrapper)
// hold, and a page that keeps the rules passes.
func TestBrowserWCAGCheck(t *testing.T) {
	chrome := findChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	pages := map[string]string{"/bad": wcagBadPage, "/good": wcagGoodPage}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, pages[r.URL.Path])
	}))
	defer srv.Close()
	w := newWalk(t, ctx, chrome)

	w.navigate("a page that breaks the rules", srv.URL+"/bad", `#wide`)
	fails := strings.Join(w.wcagFails("the bad page"), "\n")
	for _, want := range []string{
		"1.4.3 contrast (minimum): text p#pale",
		"1.4.11 non-text contrast: field input#faint",
		"3.1.1 language of page: <html> has no lang",
		"2.4.2 page titled",
		"1.3.1 info and relationships: 2 h1 elements",
		"1.3.1/4.1.2 name, role, value: field input#nameless",
		"1.3.1/4.1.2 name, role, value: field select#pick",
		"4.1.2 name, role, value: button button#empty",
		"1.1.1 non-text content: img#pic",
		"2.4.4/4.1.2 link purpose, name: link a#bare",
		"1.1.1 non-text content: svg#icon",
		"2.4.7 focus visible: input#nameless",
		"2.4.7 focus visible: a#inline",
		"2.5.8 target size: a#t1.tiny",
		"2.5.8 target size: a#t2.tiny",
		"1.4.10 reflow: the page scrolls sideways",
		"1.4.10 reflow: div#wide",
	} {
		if !strings.Contains(fails, want) {
			t.Errorf("the checker misses %q; it found:\n%s", want, fails)
		}
	}
	for _, exempt := range []string{"2.5.8 target size: a#inline", "td#cell", "table"} {
		if strings.Contains(fails, exempt) {
			t.Errorf("the checker flags %q, which WCAG exempts; it found:\n%s", exempt, fails)
		}
	}

	w.navigate("a page that keeps the rules", srv.URL+"/good", `#standalone`)
	if fails := w.wcagFails("the good page"); len(fails) > 0 {
		t.Errorf("the checker flags a page that keeps the rules:\n  %s", strings.Join(fails, "\n  "))
	}
}

const wcagBadPage = `<!doctype html><html><head><style>
body{font:16px sans-serif;margin:8px;background:#fff;color:#222}
*:focus{outline:none}
a.tiny{display:inline-block;width:10px;height:10px;font-size:8px}
#wide{width:600px}
.scroll{overflow-x:auto}
</style></head><body>
<h1>One</h1><h1>Two</h1>
<p id="pale" style="color:#bbb">pale text</p>
<p><input type="text" id="nameless"> <select id="pick"><option>a</option></select> <button id="empty"></button></p>
<p><input type="text" id="faint" aria-label="faint" style="border:1px solid #ddd"></p>
<p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" id="pic" width="2" height="2"></p>
<p><a href="#bare" id="bare" style="display:inline-block;width:30px;height:30px"></a></p>
<p><a class="tiny" id="t1" href="#1">a</a><a class="tiny" id="t2" href="#2">b</a></p>
<p>Inline <a href="#x" id="inline">a link</a> in a sentence.</p>
<div id="wide">wide</div>
<div class="scroll"><table style="width:900px"><tr><td id="cell">wide table</td></tr></table></div>
<svg width="10" height="10" id="icon"></svg>
</body></html>`

const wcagGoodPage = `<!doctype html><html lang="en"><head><title>Good</title><style>
body{font:16px sans-serif;margin:8px;background:#fff;color:#222}
:focus-visible{outline:3px solid #1f6feb}
button,input[type=submit]{min-height:24px;min-width:24px;margin:4px}
.scroll{overflow-x:auto}
</style></head><body>
<h1>Fine</h1>
<p><label for="a">Name</label> <input type="text" id="a"></p>
<p><label>Pick <select><option>a</option></select></label></p>
<p><input type="text" aria-label="Search"></p>
<p><span id="lbl">Code</span> <input type="text" aria-labelledby="lbl"></p>
<p><button>Go</button> <input type="submit" value="Send"> <button aria-label="Close"><span aria-hidden="true">×</span></button></p>
<p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="" width="2" height="2"></p>
<svg aria-hidden="true" width="10" height="10"></svg>
<p>Inline <a href="#x">a link</a> in a sentence.</p>
<p><a href="#y" id="standalone" style="display:inline-block;min-height:24px;padding:2px 0">Standalone</a></p>
<div class="scroll"><table style="width:900px"><tr><td>wide table</td></tr></table></div>
</body></html>`

// wcag checks the page in the tab against WCAG 2.2 AA, as far as a script
// can tell, and fails the test with one line per finding, each naming the
// criterion and the element:
//
//   - 1.4.3 and 1.4.11, contrast: every visible text 4.5:1 against the
//     background it is drawn on (3:1 when large: 24 px, or 18.66 px bold),
//     opacity and translucent layers included, and the border of every
//     form field 3:1 against the background around it. Disabled controls
//     and decorative (aria-hidden) elements are exempt, as WCAG says;
//   - 1.1.1, 1.3.1, 2.4.2, 2.4.4, 3.1.1 and 4.1.2, structure and names: every
//     form control (input that is not hidden, select, textarea, button)
//     has an accessible name (label[for], a wrapping label, aria-label,
//     aria-labelledby, a button's text or value), so does every link (2.4.4
//     as well), every img has an alt, every
//     svg that is not aria-hidden role=img and a name; <html lang> is set,
//     the page has one h1 and a title that is not empty;
//   - 2.4.7, focus visible: after a key press (keyboard modality, as when
//     tabbing), focusing each link, button and field shows an outline, a
//     box-shadow, or a border or background that differs from unfocused;
//   - 2.5.8, target size (minimum): links and buttons are at least 24×24
//     CSS px, or a 24 px circle on each meets no other target (WCAG's
//     spacing exception); links inline in running text are exempt;
//   - 1.4.10, reflow: 320 CSS px wide, the document does not scroll
//     sideways and nothing is drawn outside the viewport, except inside
//     a .scroll wrapper (tables, which need two dimensions).
//
// The tab's viewport is the walk's again afterwards.
func (w *walk) wcag(what string) {
	w.t.Helper()
	if fails := w.wcagFails(what); len(fails) > 0 {
		w.t.Errorf("%s fails WCAG 2.2 AA:\n  %s", what, strings.Join(fails, "\n  "))
	}
}

// wcagFails runs wcag's checks and answers their findings.
func (w *walk) wcagFails(what string) []string {
	w.t.Helper()
	var fails []string
	fails = append(fails, w.eval("contrast of "+what, wcagScript)...)
	fails = append(fails, w.eval("structure and names of "+what, wcagPage(wcagStructure))...)
	// A real key press: focus that a script moves afterwards is then shown
	// the way a keyboard user sees it (:focus-visible).
	w.do("a key press before the focus check of "+what, chromedp.KeyEvent(kb.Tab))
	fails = append(fails, w.eval("focus indicators of "+what, wcagPage(wcagFocus))...)
	fails = append(fails, w.eval("target sizes of "+what, wcagPage(wcagTargets))...)
	w.do("320 px wide for the reflow check of "+what, chromedp.EmulateViewport(320, 720))
	w.settle("320 px wide for the reflow check of "+what, `window.innerWidth === 320`)
	fails = append(fails, w.eval("reflow of "+what, wcagPage(wcagReflow))...)
	w.do("the walk's viewport after the reflow check of "+what, w.restoreViewport())
	// A click computes where to press from the layout: before the next
	// step the page must be laid out at the walk's width again.
	w.settle("the walk's viewport after the reflow check of "+what, `window.innerWidth !== 320`)
	return fails
}

// settle waits until the predicate holds in the page. It polls on a timer,
// not on animation frames, which a tab in the background does not get.
func (w *walk) settle(what, predicate string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.tab, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingInterval(10*time.Millisecond))); err != nil {
		w.fatal(what, err)
	}
}

// emulate sets the tab's viewport, which wcag restores after its reflow
// check.
func (w *walk) emulate(what string, viewport chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	w.viewport = viewport
	w.do(what, viewport)
}

func (w *walk) restoreViewport() chromedp.Action[chromedp.Void] {
	if w.viewport != nil {
		return w.viewport
	}
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		return err
	})
}

// acceptLanguage sends lang as the tab's Accept-Language from now on.
func acceptLanguage(lang string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}})
		return err
	})
}

// wcagPage wraps a check's body with the helpers it shares: visible,
// says (the text a screen reader reads: text and alt, aria-hidden parts
// left out) and name (how a finding names an element).
func wcagPage(body string) string {
	return `(() => {
	const visible = el => { const s = getComputedStyle(el), r = el.getBoundingClientRect();
		return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
	const says = el => { let t = '';
		for (const n of el.childNodes) {
			if (n.nodeType === 3) t += n.textContent;
			else if (n.nodeType === 1 && n.getAttribute('aria-hidden') !== 'true' && !['SCRIPT', 'STYLE', 'TITLE'].includes(n.tagName))
				t += n.tagName === 'IMG' ? ' ' + (n.getAttribute('alt') || '') + ' ' : ' ' + says(n) + ' ';
		}
		return t.replace(/\s+/g, ' ').trim(); };
	const name = el => { const cls = typeof el.className === 'string' ? el.className.trim() : '', text = says(el);
		return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (cls ? '.' + cls.split(/\s+/).join('.') : '') +
			(el.getAttribute('name') ? '[name=' + el.getAttribute('name') + ']' : '') +
			(el.getAttribute('href') ? '[href=' + el.getAttribute('href').slice(0, 40) + ']' : '') +
			(text ? ' "' + text.slice(0, 40) + '"' : ''); };
	const fails = [];
` + body + `
	return fails;
})()`
}

// wcagStructure: 1.1.1, 1.3.1, 2.4.2, 2.4.4, 3.1.1, 4.1.2.
const wcagStructure = `
	if (!(document.documentElement.getAttribute('lang') || '').trim()) fails.push('3.1.1 language of page: <html> has no lang');
	if (!document.title.trim()) fails.push('2.4.2 page titled: the <title> is missing or empty');
	const h1s = Array.from(document.querySelectorAll('h1'));
	if (h1s.length !== 1) fails.push('1.3.1 info and relationships: ' + h1s.length + ' h1 elements (' + h1s.map(name).join(', ') + '), want exactly one');
	const button = el => el.tagName === 'BUTTON' || (el.tagName === 'INPUT' && /^(submit|reset|button|image)$/.test(el.type));
	const accName = el => {
		const by = (el.getAttribute('aria-labelledby') || '').trim();
		if (by) { const t = by.split(/\s+/).map(id => document.getElementById(id)).filter(Boolean).map(says).join(' ').trim(); if (t) return t; }
		const label = (el.getAttribute('aria-label') || '').trim();
		if (label) return label;
		for (const l of el.labels || []) { const t = says(l); if (t) return t; }
		if (el.tagName === 'BUTTON') return says(el);
		if (el.tagName === 'INPUT' && el.type === 'image') return (el.getAttribute('alt') || '').trim();
		if (el.tagName === 'INPUT' && /^(submit|reset)$/.test(el.type)) return (el.value || el.type).trim(); // the browser's "Submit"/"Reset"
		if (el.tagName === 'INPUT' && el.type === 'button') return (el.value || '').trim();
		return ''; };
	for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
		if (!accName(el)) fails.push((button(el) ? '4.1.2 name, role, value: button ' : '1.3.1/4.1.2 name, role, value: field ') + name(el) +
			' has no accessible name (label[for], wrapping label, aria-label, aria-labelledby' + (button(el) ? ', text or value' : '') + ')');
	for (const a of document.querySelectorAll('a[href]'))
		if (!(a.getAttribute('aria-label') || '').trim() && !says(a)) fails.push('2.4.4/4.1.2 link purpose, name: link ' + name(a) + ' has no accessible name (text, alt or aria-label)');
	for (const img of document.querySelectorAll('img:not([alt])')) fails.push('1.1.1 non-text content: ' + name(img) + ' (src ' + (img.getAttribute('src') || '').slice(0, 40) + ') has no alt');
	for (const svg of document.querySelectorAll('svg')) {
		if (svg.closest('[aria-hidden="true"]') || svg.parentElement.closest('svg')) continue;
		const labelled = (svg.getAttribute('aria-label') || '').trim() || (svg.getAttribute('aria-labelledby') || '').trim();
		if (svg.getAttribute('role') !== 'img' || !labelled) fails.push('1.1.1 non-text content: ' + name(svg) + ' is neither aria-hidden nor role=img with aria-label or aria-labelledby');
	}
`

// wcagFocus: 2.4.7. Each link, button and field is focused by script
// (after the key press wcag makes) and compared with itself unfocused.
const wcagFocus = `
	const look = el => { const s = getComputedStyle(el);
		return {outline: s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor, on: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0 && !/^(transparent|rgba\(.*,\s*0\))$/.test(s.outlineColor),
			shadow: s.boxShadow, border: ['Top', 'Right', 'Bottom', 'Left'].map(k => s['border' + k + 'Width'] + ' ' + s['border' + k + 'Style'] + ' ' + s['border' + k + 'Color']).join(', '),
			background: s.backgroundColor + ' ' + s.backgroundImage}; };
	const sel = 'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])';
	for (const el of document.querySelectorAll(sel)) {
		if (!visible(el) || el.disabled) continue;
		if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
		const before = look(el);
		el.focus();
		if (document.activeElement !== el) { fails.push('2.4.7 focus visible: ' + name(el) + ' does not take focus'); continue; }
		const after = look(el), fv = el.matches(':focus-visible');
		el.blur();
		if (after.on || (after.shadow !== 'none' && after.shadow !== before.shadow) || after.border !== before.border || after.background !== before.background) continue;
		fails.push('2.4.7 focus visible: ' + name(el) + ' shows no focus indicator (outline ' + after.outline + ', box-shadow ' + after.shadow +
			' as unfocused, border and background as unfocused' + (fv ? '' : '; it did not match :focus-visible') + ')');
	}
`

// wcagTargets: 2.5.8. A link is inline in running text when it is drawn
// inline and the block around it has text of its own.
const wcagTargets = `
	const all = Array.from(document.querySelectorAll('a[href], button, input[type=submit], input[type=button], input[type=reset], input[type=image]')).filter(visible);
	const blockOf = el => { let e = el.parentElement; while (e && getComputedStyle(e).display.startsWith('inline')) e = e.parentElement; return e; };
	const squash = s => s.replace(/\s+/g, '');
	const inText = el => { if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
		const b = blockOf(el); return !!b && squash(b.textContent).length > squash(el.textContent).length; };
	const targets = all.map(el => ({el, r: el.getBoundingClientRect(), inline: inText(el)}));
	const small = targets.filter(t => !t.inline && (t.r.width < 23.99 || t.r.height < 23.99));
	const mid = r => ({x: r.left + r.width / 2, y: r.top + r.height / 2});
	const toRect = (p, r) => Math.hypot(Math.max(r.left - p.x, 0, p.x - r.right), Math.max(r.top - p.y, 0, p.y - r.bottom));
	for (const t of small) {
		const c = mid(t.r);
		const clash = targets.find(o => o !== t && !o.el.contains(t.el) && !t.el.contains(o.el) &&
			(small.includes(o) ? Math.hypot(c.x - mid(o.r).x, c.y - mid(o.r).y) < 24 : toRect(c, o.r) < 12));
		if (clash) fails.push('2.5.8 target size: ' + name(t.el) + ' is ' + t.r.width.toFixed(1) + '×' + t.r.height.toFixed(1) +
			' px, under 24×24, and a 24 px circle on it meets ' + name(clash.el));
	}
`

// wcagReflow: 1.4.10, at the 320 px wide viewport wcag sets. Findings name
// the innermost element (or text) drawn outside the viewport.
const wcagReflow = `
	const vw = window.innerWidth, d = document.documentElement;
	if (d.scrollWidth > vw) fails.push('1.4.10 reflow: the page scrolls sideways, ' + d.scrollWidth + ' px wide in a ' + vw + ' px viewport');
	const exempt = el => { const s = el.parentElement && el.parentElement.closest('.scroll'); return !!s; };
	const out = r => r.width > 1 && r.height > 1 && (r.left < -0.5 || r.right > vw + 0.5);
	const found = [];
	for (const el of document.body.querySelectorAll('*')) {
		if (!visible(el) || exempt(el) || el.closest('svg') && el.tagName !== 'svg') continue;
		const r = el.getBoundingClientRect();
		let over = out(r) ? 'box ' + Math.round(r.left) + '…' + Math.round(r.right) + ' px' : '';
		if (!over) for (const n of el.childNodes) {
			if (n.nodeType !== 3 || !n.textContent.trim()) continue;
			const range = document.createRange(); range.selectNodeContents(n);
			const tr = range.getBoundingClientRect();
			if (out(tr)) { over = 'text ' + Math.round(tr.left) + '…' + Math.round(tr.right) + ' px'; break; }
		}
		if (over) found.push({el, over});
	}
	// The innermost: an element whose descendants are drawn outside too
	// is only their container.
	for (const f of found) if (!found.some(g => g !== f && f.el.contains(g.el))) fails.push('1.4.10 reflow: ' + name(f.el) + ' is drawn outside the 320 px viewport (' + f.over + ')');
`

const wcagScript = `(() => {
	const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
		const p = m[1].split(',').map(s => parseFloat(s)); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
	const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
	const lum = c => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
	const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
	const blend = (fg, bg) => ({r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a), a: 1});
	const bgOf = el => { const layers = [];
		for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
			if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; } }
		let bg = {r: 255, g: 255, b: 255, a: 1};
		for (let i = layers.length - 1; i >= 0; i--) bg = blend(layers[i], bg);
		return bg; };
	const opacity = el => { let o = 1; for (let e = el; e; e = e.parentElement) o *= parseFloat(getComputedStyle(e).opacity); return o; };
	const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
	const fails = [];
	for (const el of document.querySelectorAll('body *')) {
		const s = getComputedStyle(el), r = el.getBoundingClientRect();
		if (r.width === 0 || r.height === 0 || s.visibility === 'hidden' || s.display === 'none') continue;
		if (el.closest('[aria-hidden="true"], svg') || el.disabled || el.closest('button:disabled')) continue;
		const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim() !== '');
		if (own) {
			const bg = bgOf(el), fg = parse(s.color);
			fg.a *= opacity(el);
			const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
			const need = (size >= 24 || (size >= 18.66 && bold)) ? 3 : 4.5;
			const got = ratio(blend(fg, bg), bg);
			if (got < need) fails.push('1.4.3 contrast (minimum): text ' + name(el) + ' "' + el.textContent.trim().slice(0, 40) + '": ' + got.toFixed(2) + ':1, want ' + need + ':1');
		}
		if (el.matches('input:not([type=hidden]):not([type=submit]):not([type=checkbox]):not([type=radio]), select, textarea')) {
			const bg = bgOf(el.parentElement), bc = parse(s.borderTopColor), bw = parseFloat(s.borderTopWidth);
			const got = bc ? ratio(blend(bc, bg), bg) : 0;
			if (bw <= 0 || got < 3) fails.push('1.4.11 non-text contrast: field ' + name(el) + (el.name ? '[' + el.name + ']' : '') + ': border ' + s.borderTopColor + ' ' + bw + 'px, ' + got.toFixed(2) + ':1, want 3:1');
		}
	}
	return fails;
})()`
