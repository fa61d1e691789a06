"""The dashboard: one server-rendered page whose small inline script polls ``/api/dashboard``.

Self-contained on purpose (no CDN, no build step): the charts are inline SVG drawn by ~100 lines
of plain JavaScript, so the page works offline and behind any firewall.
"""

from __future__ import annotations

import html

from app.service import experiments_panel

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:14px 24px;display:flex;align-items:baseline;gap:16px}
header h1{font-size:20px;margin:0} header span{opacity:.75;font-size:13px}
.sandbox{background:#ffd84d;color:#3a2c00;padding:10px 24px;font-weight:600;border-bottom:2px solid #c9a400}
main{padding:16px 24px;display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}
.tiles{grid-column:1/-1;display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:12px}
.tile,.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:12px 16px}
.tile b{display:block;font-size:24px;margin-top:4px} .tile small{color:#5b6475} #t-docs-last{font-size:16px}
.card h2{font-size:15px;margin:0 0 8px} .legend{font-size:12px;display:flex;flex-wrap:wrap;gap:10px;margin-top:6px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
table{border-collapse:collapse;width:100%;font-size:13px} td,th{padding:4px 6px;text-align:left;border-bottom:1px solid #eee}
.ok{color:#0a7d38;font-weight:600} .bad{color:#b3261e;font-weight:600} .muted{color:#8a93a3}
#status{font-size:13px} .wide{grid-column:1/-1} .empty{fill:#8a93a3;font-size:13px}
"""

_SCRIPT = r"""
const COLORS=['#2f6fde','#e0543f','#1a9b5b','#9b51e0','#f2a900','#00a3bf','#d6457a','#6b7280'];
const token=(()=>{const m=location.hash.match(/token=([^&]+)/);if(m){sessionStorage.setItem('sophiaToken',
decodeURIComponent(m[1]));history.replaceState(null,'',location.pathname);}return sessionStorage.getItem('sophiaToken');})();
function el(tag,attrs,text){const e=document.createElementNS('http://www.w3.org/2000/svg',tag);
for(const k in attrs)e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=text;return e;}
function fmtTime(t){const d=new Date(t*1000);return d.toLocaleTimeString([], {hour:'2-digit',minute:'2-digit'});}
function fmt(v){if(v===0)return '0';const a=Math.abs(v);if(a>=100)return v.toFixed(0);if(a>=1)return v.toFixed(1);
  if(a>=0.01)return v.toFixed(2);return v.toPrecision(2);}
function usd(v){return '$'+(v===0?'0':v>=0.01?v.toFixed(2):v.toPrecision(2));}
function chart(id,buckets,series,unit,cap){
  const svg=document.getElementById(id);while(svg.firstChild)svg.removeChild(svg.firstChild);
  const W=560,H=200,L=64,R=28,T=10,B=26;svg.setAttribute('viewBox',`0 0 ${W} ${H}`);
  const all=series.flatMap(s=>s.values.filter(v=>v!==null));
  const legend=document.getElementById(id+'-legend');legend.textContent='';
  if(!all.length){svg.appendChild(el('text',{x:W/2,y:H/2,'text-anchor':'middle',class:'empty'},'no data yet'));return;}
  const max=cap||Math.max(...all)*1.1||1,n=buckets.length;
  const x=i=>L+(n<2?0:i*(W-L-R)/(n-1)),y=v=>T+(H-T-B)*(1-v/max);
  for(let k=0;k<=4;k++){const v=max*k/4;svg.appendChild(el('line',{x1:L,x2:W-R,y1:y(v),y2:y(v),stroke:'#e6e8ec'}));
    svg.appendChild(el('text',{x:L-6,y:y(v)+4,'text-anchor':'end','font-size':11,fill:'#5b6475'},
      unit==='$'?usd(v):fmt(v)+unit));}
  [[0,'start'],[Math.floor((n-1)/2),'middle'],[n-1,'end']].forEach(([i,a])=>svg.appendChild(el('text',{x:x(i),
    y:H-6,'text-anchor':a,'font-size':11,fill:'#5b6475'},fmtTime(buckets[i]))));
  series.forEach((s,si)=>{const c=COLORS[si%COLORS.length];let d='';let pen=false;
    s.values.forEach((v,i)=>{if(v===null){pen=false;return;}d+=(pen?'L':'M')+x(i).toFixed(1)+' '+y(v).toFixed(1);pen=true;
      svg.appendChild(el('circle',{cx:x(i),cy:y(v),r:2.5,fill:c}));});
    svg.appendChild(el('path',{d:d,fill:'none',stroke:c,'stroke-width':2}));
    const item=document.createElement('span');const sw=document.createElement('i');sw.style.background=c;
    item.appendChild(sw);item.appendChild(document.createTextNode(s.name));legend.appendChild(item);});
}
function tile(id,text){document.getElementById(id).textContent=text;}
function render(d){
  const t=d.timeline,tot=t.totals,b=t.buckets;
  tile('t-requests',tot.requests);tile('t-errors',tot.requests?(100*tot.errors/tot.requests).toFixed(1)+' %':'–');
  tile('t-fallbacks',tot.fallbacks);tile('t-cache',tot.requests?(100*tot.cache_hits/tot.requests).toFixed(1)+' %':'–');
  tile('t-tokens',tot.tokens.toLocaleString());tile('t-cost',usd(tot.cost_usd));
  chart('c-latency',b,Object.entries(t.latency_ms).map(([p,v])=>({name:p,values:v})),' ms');
  chart('c-traffic',b,[{name:'requests',values:t.requests},{name:'fallbacks',values:t.fallbacks},
    {name:'errors',values:t.errors}],'');
  chart('c-cache',b,[{name:'cache hit rate',values:t.cache_hit_rate.map(v=>v===null?null:100*v)}],' %',100);
  chart('c-tokens',b,[{name:'tokens',values:t.tokens}],'');
  let run=0;chart('c-cost',b,[{name:'cumulative cost (USD)',values:t.cost_usd.map(v=>(run+=v))}],'$');
  chart('c-health',b,Object.entries(t.provider_success).map(([p,v])=>({name:p,values:v.map(x=>x===null?null:100*x)})),' %',100);
  const body=document.getElementById('providers');body.textContent='';
  for(const p of d.providers){const tr=document.createElement('tr');
    const h=d.health&&d.health.providers?d.health.providers[p.name]:null;
    const cells=[p.name,h?(h.ok?'up':'down'):'not checked',p.requests,p.errors,p.fallbacks,
      p.avg_latency_ms.toFixed(0)+' ms',p.tokens,usd(p.cost_usd)];
    cells.forEach((c,i)=>{const td=document.createElement('td');td.textContent=c;
      if(i===1)td.className=h?(h.ok?'ok':'bad'):'muted';tr.appendChild(td);});
    if(h&&!h.ok)tr.title=h.reason;body.appendChild(tr);}
  const docs=d.documents||{};tile('t-docs',docs.error?'–':docs.sources+' · '+docs.chunks);
  tile('t-docs-last',docs.last_added_at?new Date(docs.last_added_at).toLocaleString([],
    {dateStyle:'short',timeStyle:'short'}):'–');
  document.getElementById('t-docs').title=docs.error||'';
  tile('status','overall: '+(d.health?d.health.status:'not checked yet')+' · updated '+new Date().toLocaleTimeString());
  circuits(d.circuits||{});
}
function circuits(c){const body=document.getElementById('circuits');body.textContent='';
  for(const [target,s] of Object.entries(c)){if(!s.state)continue;const tr=document.createElement('tr');
    [target,s.state.replace('_','-'),s.attempts,s.failures,s.probe_after_s!==undefined?s.probe_after_s+' s':'']
      .forEach((v,i)=>{const td=document.createElement('td');td.textContent=v;
        if(i===1)td.className=s.state==='closed'?'ok':'bad';tr.appendChild(td);});body.appendChild(tr);}}
async function poll(){
  try{const r=await fetch('api/dashboard?minutes='+document.getElementById('window').value,
      {headers:token?{Authorization:'Bearer '+token}:{}});
    if(r.status===401){tile('status','unauthorised: open this page as /#token=<one of SOPHIA_API_KEYS>');return;}
    render(await r.json());}catch(e){tile('status','cannot reach the service: '+e);}
}
document.getElementById('window').addEventListener('change',poll);poll();setInterval(poll,5000);
"""

_CHARTS = (("c-latency", "Latency per provider"), ("c-traffic", "Requests, fallbacks and errors"),
           ("c-cache", "Cache hit rate"), ("c-health", "Provider health (successful attempts)"),
           ("c-tokens", "Tokens"), ("c-cost", "Cost"))
_TILES = (("t-requests", "requests"), ("t-errors", "error rate"), ("t-fallbacks", "fallbacks"),
          ("t-cache", "cache hit rate"), ("t-tokens", "tokens"), ("t-cost", "cost"),
          ("t-docs", "documents · chunks"), ("t-docs-last", "last ingest"))


def render_dashboard(sandboxed: tuple[str, ...], version: str) -> str:
    """The dashboard's HTML, with a SANDBOX banner naming the simulated providers, if any."""
    banner = ""
    if sandboxed:
        banner = (f'<div class="sandbox" id="sandbox-banner">SANDBOX: simulated providers answer for '
                  f'{html.escape(", ".join(sandboxed))}. Their answers are not real model output.</div>')
    tiles = "".join(f'<div class="tile"><small>{label}</small><b id="{i}">–</b></div>' for i, label in _TILES)
    charts = "".join(
        f'<div class="card"><h2>{title}</h2><svg id="{i}" width="100%" height="200"></svg>'
        f'<div class="legend" id="{i}-legend"></div></div>' for i, title in _CHARTS
    )
    table = ('<div class="card wide"><h2>Providers</h2><table><thead><tr><th>provider</th><th>health</th>'
             '<th>requests</th><th>errors</th><th>fallbacks</th><th>avg latency</th><th>tokens</th><th>cost</th>'
             '</tr></thead><tbody id="providers"></tbody></table></div>')
    circuits = ('<div class="card wide"><h2>Circuits (per target, at the last health check)</h2><table><thead><tr>'
                '<th>target</th><th>circuit</th><th>attempts in window</th><th>failures</th><th>probe in</th>'
                '</tr></thead><tbody id="circuits"></tbody></table></div>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sophia routing dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}{experiments_panel.STYLE}</style>
</head>
<body><header><h1>Sophia routing dashboard</h1><span>v{html.escape(version)}</span><span id="status">loading…</span>
<span style="margin-left:auto">window <select id="window"><option value="15">15 min</option>
<option value="60" selected>1 hour</option><option value="360">6 hours</option><option value="1440">24 hours</option>
</select></span></header>{banner}
<main><div class="tiles">{tiles}</div>{charts}{table}{circuits}{experiments_panel.PANEL}</main>
<script>{_SCRIPT}</script><script>{experiments_panel.SCRIPT}</script></body></html>"""
