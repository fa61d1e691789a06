"""The dashboard's Alerts panel: active alerts, their history and usage anomalies.

Self-contained (its own markup, style and script polling ``/api/alerts``), so the dashboard page
only places it; it starts on ``load`` and reuses the page's ``token`` for the bearer header.
"""

from __future__ import annotations

_STYLE = """
.sev-critical{color:#b3261e;font-weight:600} .sev-warning{color:#a36200;font-weight:600} .sev-info{color:#2f6fde}
#alerts-active:empty::after{content:'no alert firing';color:#0a7d38}
"""

_SCRIPT = r"""
(function(){
function cells(tr,values,classes){values.forEach((v,i)=>{const td=document.createElement('td');td.textContent=v;
  if(classes&&classes[i])td.className=classes[i];tr.appendChild(td);});}
function when(t){return t?new Date(t*1000).toLocaleTimeString():'';}
function labels(l){return Object.entries(l||{}).map(([k,v])=>k+'='+v).join(' ');}
function fill(id,rows,make){const body=document.getElementById(id);body.textContent='';
  rows.forEach(r=>{const tr=document.createElement('tr');make(tr,r);body.appendChild(tr);});}
async function pollAlerts(){
  try{const r=await fetch('api/alerts',{headers:token?{Authorization:'Bearer '+token}:{}});if(!r.ok)return;
    const d=await r.json();
    const active=document.getElementById('alerts-active');active.textContent='';
    d.active.forEach(a=>{const li=document.createElement('li');li.className='sev-'+a.severity;
      li.textContent=a.alertname+' ('+a.severity+') '+labels(a.labels)+': '+a.summary+' · since '+when(a.starts_at);
      active.appendChild(li);});
    fill('alerts-history',d.history.slice(0,30),(tr,e)=>cells(tr,[when(e.at),e.alertname,e.status,e.severity,
      labels(e.labels),e.summary],[null,null,e.status==='firing'?'bad':'ok','sev-'+e.severity]));
    fill('alerts-anomalies',d.anomalies.recent.slice(0,20),(tr,a)=>cells(tr,[when(a.at),a.dimension+' '+a.subject,
      a.measure,a.direction,a.value.toPrecision(3),a.expected.toPrecision(3),a.score],
      [null,null,null,a.direction==='spike'?'bad':'sev-warning']));
    document.getElementById('alerts-meta').textContent=(d.shared?'shared across instances':'this instance')+
      ' · '+d.rules.length+' rules · '+d.anomalies.warm+'/'+d.anomalies.baselines+' usage baselines warm';
  }catch(e){}
}
addEventListener('load',()=>{pollAlerts();setInterval(pollAlerts,5000);});
})();
"""


def alerts_panel() -> str:
    """The panel's markup, style and script, placed in the dashboard's grid."""
    return (f'<style>{_STYLE}</style>'
            '<div class="card wide" id="alerts-panel"><h2>Alerts <small class="muted" id="alerts-meta"></small></h2>'
            '<ul id="alerts-active"></ul>'
            '<table><thead><tr><th>time</th><th>alert</th><th>status</th><th>severity</th><th>labels</th>'
            '<th>summary</th></tr></thead><tbody id="alerts-history"></tbody></table>'
            '<h2 style="margin-top:12px">Usage anomalies</h2>'
            '<table><thead><tr><th>interval end</th><th>who</th><th>measure</th><th>kind</th><th>value</th>'
            '<th>expected</th><th>score</th></tr></thead><tbody id="alerts-anomalies"></tbody></table></div>'
            f'<script>{_SCRIPT}</script>')
