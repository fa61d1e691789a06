"""The dashboard: one server-rendered page whose small inline script polls ``/api/dashboard``.

Self-contained on purpose (no CDN, no build step): the charts are inline SVG drawn by plain
JavaScript, so the page works offline and behind any firewall.

The page is a list of panels (``PANELS``). A panel is its markup plus one script function,
``render_<id>(d)``, that fills it from the feed; the page calls every panel's function on each poll,
and a panel that fails leaves the others alone. Adding a panel is adding one ``Panel`` to the list.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from app.service import experiments_panel, workflows_panel
from app.service.alerts_panel import alerts_panel

_STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 24px;display:flex;flex-wrap:wrap;align-items:center;gap:8px 16px}
header h1{font-size:20px;margin:0} header .muted{color:#aab2c0;font-size:13px}
#status{font-size:13px;padding:2px 10px;border-radius:10px;background:#3a4253}
#status.operational{background:#1a7f45} #status.degraded{background:#b7791f} #status.down{background:#b3261e}
.window{margin-left:auto;font-size:13px}
.sandbox{background:#ffd84d;color:#3a2c00;padding:10px 24px;font-weight:600;border-bottom:2px solid #c9a400}
.sandbox small{display:block;font-weight:400;margin-top:2px;overflow-wrap:anywhere}
main{padding:16px 24px;display:grid;grid-template-columns:repeat(auto-fit,minmax(min(440px,100%),1fr));gap:16px}
.tiles{grid-column:1/-1;display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px}
.tile,.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:12px 16px;min-width:0}
.tile b{display:block;font-size:22px;margin-top:4px;overflow-wrap:anywhere} .tile small,.tile span{color:#5b6475;font-size:12px}
.card h2{font-size:15px;margin:0 0 8px} .legend{font-size:12px;display:flex;flex-wrap:wrap;gap:10px;margin-top:6px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.scroll{overflow-x:auto} table{border-collapse:collapse;width:100%;font-size:13px}
td,th{padding:4px 6px;text-align:left;border-bottom:1px solid #eee;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#0a7d38;font-weight:600} .bad{color:#b3261e;font-weight:600} .muted{color:#8a93a3}
.wide{grid-column:1/-1} .empty{fill:#8a93a3;font-size:13px} ul.plain{margin:0;padding-left:18px;font-size:13px}
ul.plain li{margin:2px 0;overflow-wrap:anywhere} td.detail{white-space:normal;overflow-wrap:anywhere;min-width:220px}
ul.errors{list-style:none;margin:0;padding:0;font-size:13px} ul.errors li{padding:6px 0;border-bottom:1px solid #eee}
ul.errors small{display:block;color:#5b6475;overflow-wrap:anywhere;margin-top:2px}
.card .tile{box-shadow:none;background:#f6f7f9} .card .tile b{font-size:17px}
"""

# Shared helpers: SVG elements, number formats, a nice axis scale, line charts, table rows.
_HELPERS = r"""
const COLORS=['#2f6fde','#e0543f','#1a9b5b','#9b51e0','#f2a900','#00a3bf','#d6457a','#6b7280'];
// The bearer token comes once in the URL (#token=...) and is kept for the tab; without storage (a
// sandboxed frame) it lives as long as the page.
const token=(()=>{const m=location.hash.match(/token=([^&]+)/),t=m?decodeURIComponent(m[1]):null;
  if(m)history.replaceState(null,'',location.pathname);
  try{if(t)sessionStorage.setItem('sophiaToken',t);return t||sessionStorage.getItem('sophiaToken');}catch(e){return t;}})();
function clock(date){return date.toLocaleTimeString([],{hourCycle:'h23'});}
function el(tag,attrs,text){const e=document.createElementNS('http://www.w3.org/2000/svg',tag);
for(const k in attrs)e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=text;return e;}
function $(id){return document.getElementById(id);}
function fmtTime(t,span){const d=new Date(t*1000);return d.toLocaleTimeString([],span<=900?
  {hour:'2-digit',minute:'2-digit',second:'2-digit',hourCycle:'h23'}:{hour:'2-digit',minute:'2-digit',hourCycle:'h23'});}
// Dollars to the cent from $1, else to 3 significant digits: $0.0144 next to $0.0000410, never $0.01.
function usd(v){if(v===null||v===undefined)return '–';if(v===0)return '$0';
  return '$'+v.toFixed(v>=1?2:Math.min(10,2-Math.floor(Math.log10(v))));}
function ms(v){return v===null||v===undefined?'–':(v>=100?v.toFixed(0):v.toFixed(1))+' ms';}
function pct(part,whole){return whole?(100*part/whole).toFixed(1)+' %':'–';}
// An axis from 0 with 4-5 ticks on round steps (1, 2, 2.5, 5 x 10^k; counts use whole steps).
function scale(max,whole){max=max>0?max:1;const raw=max/4,p=Math.pow(10,Math.floor(Math.log10(raw))),f=raw/p;
  let step=(f<=1?1:f<=2?2:(f<=2.5&&!whole)?2.5:f<=5?5:10)*p;if(whole)step=Math.max(1,Math.round(step));
  const decimals=Math.max(0,-Math.floor(Math.log10(step))+(Math.round(step/p)===2.5?1:0));
  return {top:Math.ceil(max/step-1e-9)*step,step:step,label:v=>v.toFixed(decimals)};}
function chart(id,d,series,opts){
  const svg=$(id),b=d.timeline.buckets,span=d.window.until-d.window.since;while(svg.firstChild)svg.removeChild(svg.firstChild);
  // One user unit per CSS pixel, so labels keep their size on a phone.
  const W=Math.max(260,Math.round(svg.getBoundingClientRect().width)||560),H=200,L=60,R=16,T=10,B=26;
  svg.setAttribute('viewBox',`0 0 ${W} ${H}`);
  const all=series.flatMap(s=>s.values.filter(v=>v!==null));
  const legend=$(id+'-legend');legend.textContent='';
  if(!all.length){svg.appendChild(el('text',{x:W/2,y:H/2,'text-anchor':'middle',class:'empty'},'no data yet'));return;}
  const sc=opts.cap?{top:opts.cap,step:opts.cap/4,label:v=>v.toFixed(0)}:scale(Math.max(...all),opts.whole);
  const n=b.length,x=i=>L+(n<2?0:i*(W-L-R)/(n-1)),y=v=>T+(H-T-B)*(1-v/sc.top);
  for(let v=0;v<=sc.top+sc.step/2;v+=sc.step){svg.appendChild(el('line',{x1:L,x2:W-R,y1:y(v),y2:y(v),stroke:'#e6e8ec'}));
    const text=opts.unit==='$'?'$'+sc.label(v):sc.label(v)+(opts.unit||'');
    svg.appendChild(el('text',{x:L-6,y:y(v)+4,'text-anchor':'end','font-size':11,fill:'#5b6475'},text));}
  [[0,'start'],[Math.floor((n-1)/2),'middle'],[n-1,'end']].forEach(([i,a])=>svg.appendChild(el('text',{x:x(i),
    y:H-6,'text-anchor':a,'font-size':11,fill:'#5b6475'},fmtTime(b[i],span))));
  series.forEach((s,si)=>{const c=COLORS[si%COLORS.length];let path='';let pen=false;
    s.values.forEach((v,i)=>{if(v===null){pen=false;return;}path+=(pen?'L':'M')+x(i).toFixed(1)+' '+y(v).toFixed(1);pen=true;
      svg.appendChild(el('circle',{cx:x(i),cy:y(v),r:2.5,fill:c}));});
    svg.appendChild(el('path',{d:path,fill:'none',stroke:c,'stroke-width':2}));
    const item=document.createElement('span');const sw=document.createElement('i');sw.style.background=c;
    item.appendChild(sw);item.appendChild(document.createTextNode(s.name));legend.appendChild(item);});
}
function rows(id,items,cells,empty){const body=$(id);body.textContent='';
  if(!items.length){const tr=document.createElement('tr'),td=document.createElement('td');td.colSpan=20;td.className='muted';
    td.textContent=empty;tr.appendChild(td);body.appendChild(tr);return;}
  for(const item of items){const tr=document.createElement('tr');
    for(const [text,cls,title] of cells(item)){const td=document.createElement('td');td.textContent=text;
      if(cls)td.className=cls;if(title)td.title=title;tr.appendChild(td);}body.appendChild(tr);}}
"""


@dataclass(frozen=True)
class Panel:
    """One block of the page: its markup and its script function ``render_<id>(d)`` (d: the feed)."""

    id: str
    html: str
    script: str


def _card(title: str, body: str, wide: bool = False) -> str:
    return f'<div class="card{" wide" if wide else ""}"><h2>{title}</h2>{body}</div>'


def _chart(chart_id: str, title: str) -> str:
    return _card(title, f'<svg id="{chart_id}" width="100%" height="200"></svg>'
                        f'<div class="legend" id="{chart_id}-legend"></div>')


def _table(body_id: str, columns: tuple[str, ...], numeric_from: int) -> str:
    head = "".join(f'<th{" class=num" if i >= numeric_from else ""}>{c}</th>' for i, c in enumerate(columns))
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody id="{body_id}"></tbody></table></div>'


_TILES = (("t-requests", "requests"), ("t-errors", "error rate"), ("t-fallbacks", "fallbacks"),
          ("t-failed", "failed attempts"), ("t-cache", "cache hit rate"), ("t-p95", "p95 latency"),
          ("t-tokens", "tokens"), ("t-cost", "cost"))

TILES = Panel("tiles", '<div class="tiles">' + "".join(
    f'<div class="tile"><small>{label}</small><b id="{i}">–</b><span id="{i}-sub"></span></div>'
    for i, label in _TILES) + "</div>", r"""
function render_tiles(d){const t=d.timeline.totals,set=(id,v,sub)=>{const b=$(id);b.textContent=v;
  b.style.fontSize=String(v).length>8?'17px':'';$(id+'-sub').textContent=sub||'';};  // $0.000166 fits a phone's tile
  set('t-requests',t.requests,t.cache_hits?`${t.requests-t.cache_hits} from providers`:'');
  set('t-errors',pct(t.errors,t.requests),t.errors?`${t.errors} failed`:'');
  set('t-fallbacks',t.fallbacks);set('t-failed',t.failed_attempts,'upstream, retries included');
  set('t-cache',pct(t.cache_hits,t.requests),`exact ${t.exact_hits} · semantic ${t.semantic_hits}`);
  set('t-p95',ms(t.p95_latency_ms),'provider answers');set('t-tokens',t.tokens.toLocaleString());
  set('t-cost',usd(t.cost_usd));}
""")

CHARTS = Panel("charts", "".join(_chart(i, title) for i, title in (
    ("c-latency", "Latency per provider (provider answers)"), ("c-traffic", "Requests, fallbacks and errors"),
    ("c-cache", "Cache hit rate"), ("c-health", "Provider health (successful attempts)"),
    ("c-tokens", "Tokens"), ("c-cost", "Cost (cumulative)"))), r"""
function render_charts(d){const t=d.timeline,toPct=v=>v.map(x=>x===null?null:100*x);
  chart('c-latency',d,Object.entries(t.latency_ms).map(([p,v])=>({name:p,values:v})),{unit:' ms'});
  chart('c-traffic',d,[{name:'requests',values:t.requests},{name:'fallbacks',values:t.fallbacks},
    {name:'errors',values:t.errors},{name:'failed attempts',values:t.failed_attempts}],{whole:true});
  chart('c-cache',d,[{name:'exact hits',values:toPct(t.exact_hit_rate)},
    {name:'semantic hits',values:toPct(t.semantic_hit_rate)}],{unit:' %',cap:100});
  chart('c-health',d,Object.entries(t.provider_success).map(([p,v])=>({name:p,values:toPct(v)})),{unit:' %',cap:100});
  chart('c-tokens',d,[{name:'tokens',values:t.tokens}],{whole:true});
  let run=0;chart('c-cost',d,[{name:'cumulative cost (USD)',values:t.cost_usd.map(v=>(run+=v))}],{unit:'$'});}
""")

PROVIDERS = Panel("providers", _card("Providers", _table("providers", (
    "provider", "health", "answers", "cache hits", "failed attempts", "errors", "served as fallback",
    "avg latency", "p95 latency", "tokens", "cost"), 2), wide=True), r"""
function render_providers(d){const hp=d.health?d.health.providers:{};
  rows('providers',d.providers,p=>{const h=hp[p.name];
    return [[p.name],[h?(h.ok?'up':'down'):'not checked',h?(h.ok?'ok':'bad'):'muted',h?h.reason:''],
      [p.answers,'num'],[p.cache_hits,'num'],[`${p.failed_attempts} of ${p.attempts}`,'num'],[p.errors,'num'],
      [p.fallbacks,'num'],[ms(p.avg_latency_ms),'num'],[ms(p.p95_latency_ms),'num'],
      [p.tokens.toLocaleString(),'num'],[usd(p.cost_usd),'num']];},'no provider has traffic yet');}
""")

ROLES = Panel("roles", _card("Fallback rate per role", _table("roles", (
    "role", "calls", "provider answers", "fallbacks", "fallback rate", "cache hits", "errors"), 1), wide=True), r"""
function render_roles(d){rows('roles',d.roles,r=>[[r.role],[r.calls,'num'],[r.answers,'num'],[r.fallbacks,'num'],
  [r.fallback_rate===null?'–':(100*r.fallback_rate).toFixed(1)+' %','num'],[r.cache_hits,'num'],[r.errors,'num']],
  'no agent traffic yet (roles are the model names artemis/... and sophia/...)');}
""")

HEALTH = Panel("health", _card("Health", '<div id="health-summary" class="muted">not checked yet</div>'
                                         '<ul class="plain" id="health-reasons"></ul>'
                                         + _table("stores", ("store", "ok", "reason"), 9), wide=True), r"""
function render_health(d){const h=d.health,list=$('health-reasons');list.textContent='';
  if(!h){$('health-summary').textContent='not checked yet';rows('stores',[],()=>[],'');return;}
  $('health-summary').textContent=`${h.status}, checked ${clock(new Date(h.checked_at))}`+
    (h.reasons.length?':':' (every configured provider and store answered)');
  for(const r of h.reasons){const li=document.createElement('li');li.textContent=r;list.appendChild(li);}
  rows('stores',Object.entries(h.stores),([n,s])=>[[n],[s.ok?'up':(s.reason==='not configured'?'–':'down'),
    s.ok?'ok':(s.reason==='not configured'?'muted':'bad')],[s.reason,'detail']],'');}
""")

ERRORS = Panel("errors", _card("Recent errors", '<ul class="errors" id="errors"></ul>', wide=True), r"""
function render_errors(d){const list=$('errors');list.textContent='';
  if(!d.recent_errors.length){const li=document.createElement('li');li.className='muted';
    li.textContent='no failed call or attempt since the service started';list.appendChild(li);return;}
  for(const e of d.recent_errors){const li=document.createElement('li'),head=document.createElement('div'),
      outcome=document.createElement('span'),detail=document.createElement('small');
    head.textContent=`${clock(new Date(e.ts*1000))} · ${e.role||e.requested} · `;
    outcome.textContent=e.outcome;outcome.className=e.outcome==='failed'?'bad':'';head.appendChild(outcome);
    detail.textContent=e.detail;li.appendChild(head);li.appendChild(detail);list.appendChild(li);}}
""")

DOCUMENTS = Panel("documents", _card("Documents", '<div class="tiles"><div class="tile"><small>documents · chunks'
                                                '</small><b id="t-docs">–</b></div><div class="tile"><small>'
                                                'last ingest</small><b id="t-docs-last">–</b></div></div>'), r"""
function render_documents(d){const docs=d.documents||{};$('t-docs').textContent=docs.error?'–':docs.sources+' · '+docs.chunks;
  $('t-docs').title=docs.error||'';$('t-docs-last').textContent=docs.last_added_at?new Date(docs.last_added_at)
    .toLocaleString([],{dateStyle:'short',timeStyle:'short',hourCycle:'h23'}):'–';}
""")

CIRCUITS = Panel("circuits", _card("Circuits (per target, at the last health check)", _table("circuits", (
    "target", "circuit", "attempts in window", "failures", "probe in"), 2), wide=True), r"""
function render_circuits(d){rows('circuits',Object.entries(d.circuits||{}).filter(([,s])=>s.state),([target,s])=>[
  [target],[s.state.replace('_','-'),s.state==='closed'?'ok':'bad'],[s.attempts,'num'],[s.failures,'num'],
  [s.probe_after_s!==undefined?s.probe_after_s+' s':'','num']],'no circuit state yet (see the health check)');}
""")

STATUS = Panel("status", "", r"""
function render_status(d){const h=d.health,s=$('status'),n=h?h.reasons.length:0;s.className=h?h.status:'';
  s.textContent=h?h.status+(n?` (${n} reason${n>1?'s':''}: see Health)`:''):'health not checked yet';
  s.title=h?h.reasons.join('\n'):'';
  $('updated').textContent=(d.analytics_error?d.analytics_error+' · ':'')+'updated '+clock(new Date());}
""")

WORKFLOWS = Panel("workflows", workflows_panel.HTML, workflows_panel.SCRIPT)

PANELS: tuple[Panel, ...] = (STATUS, TILES, CHARTS, PROVIDERS, ROLES, WORKFLOWS, CIRCUITS, HEALTH, DOCUMENTS, ERRORS)
"""The page, top to bottom (``STATUS`` fills the header)."""

_POLL = r"""
const RENDERERS=[%s];let last=null;
function render(d){last=d;for(const r of RENDERERS){try{r(d);}catch(e){console.error(r.name,e);}}}
window.addEventListener('resize',()=>{if(last)render(last);});
async function poll(){
  try{const w=$('window').value,r=await fetch('api/dashboard'+(w==='auto'?'':'?minutes='+w),
      {headers:token?{Authorization:'Bearer '+token}:{}});
    if(r.status===401){$('status').textContent='unauthorised: open this page as /#token=<one of SOPHIA_API_KEYS>';return;}
    render(await r.json());}catch(e){$('status').textContent='cannot reach the service: '+e;}
}
$('window').addEventListener('change',poll);poll();setInterval(poll,5000);
"""


def _banner(sandboxed: tuple[str, ...], control_url: str | None) -> str:
    if not sandboxed:
        return ""
    control = ""
    if control_url:
        url = html.escape(control_url)
        control = (f"<small>Simulator control: <a href=\"{url}/faults\">{url}</a>, e.g. "
                   f"<code>curl -X PUT {url}/faults/openai -d '{{\"status\": 503}}'</code> makes OpenAI fail, "
                   f"<code>curl -X DELETE {url}/faults</code> clears every fault.</small>")
    return (f'<div class="sandbox" id="sandbox-banner">SANDBOX: simulated providers answer for '
            f'{html.escape(", ".join(sandboxed))}. Their answers are not real model output.{control}</div>')


def render_dashboard(sandboxed: tuple[str, ...], version: str, control_url: str | None = None) -> str:
    """The dashboard's HTML, with a SANDBOX banner naming the simulated providers (and where their
    faults are switched), if any."""
    script = _HELPERS + "".join(p.script for p in PANELS) + _POLL % ",".join(f"render_{p.id}" for p in PANELS)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sophia routing dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}{experiments_panel.STYLE}</style></head>
<body><header><h1>Sophia routing dashboard</h1><span class="muted">v{html.escape(version)}</span>
<span id="status">loading…</span><span class="muted" id="updated"></span>
<span class="window">window <select id="window"><option value="auto" selected>since start</option>
<option value="15">15 min</option><option value="60">1 hour</option><option value="360">6 hours</option>
<option value="1440">24 hours</option></select></span></header>{_banner(sandboxed, control_url)}
<main>{"".join(p.html for p in PANELS)}{experiments_panel.PANEL}{alerts_panel()}</main>
<script>{script}</script><script>{experiments_panel.SCRIPT}</script></body></html>"""
