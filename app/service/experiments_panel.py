"""The dashboard's experiments panel: each A/B test's variants side by side, with significance.

Self-contained (its own markup, styles and script, polling ``/api/experiments`` on its own) so the
dashboard page only places it: ``PANEL`` goes where the card should appear, ``SCRIPT`` after the page's.
"""

from __future__ import annotations

PANEL = ('<div class="card wide" id="experiments"><h2>Experiments (A/B)</h2>'
         '<div id="experiments-body" class="muted">loading…</div></div>')

STYLE = """
#experiments table{margin-bottom:6px} #experiments h3{font-size:14px;margin:12px 0 4px}
#experiments .sig{color:#0a7d38;font-weight:600} #experiments .ns{color:#8a93a3}
#experiments ul{margin:2px 0 10px 18px;padding:0;font-size:13px}
"""

SCRIPT = r"""
(function(){
const tok=()=>sessionStorage.getItem('sophiaToken');
const pct=v=>v===null?'–':(100*v).toFixed(1)+' %';
const ms=v=>v===null?'–':v.toFixed(0)+' ms';
const num=v=>v===null?'–':v.toFixed(1);
const money=v=>v===null?'–':'$'+(v>=0.01?v.toFixed(4):v.toPrecision(2));
function cell(tr,text,cls){const td=document.createElement('td');td.textContent=text;if(cls)td.className=cls;tr.appendChild(td);}
function score(s,n){return s?`${s.mean.toFixed(2)} [${s.low.toFixed(2)}, ${s.high.toFixed(2)}] (n=${n})`:'–';}
function diff(c){if(c.difference===null)return '';const d=c.difference;
  return {latency:` (${d>=0?'+':''}${d.toFixed(0)} ms p50)`,cost:` (${d>=0?'+':''}${money(Math.abs(d))} per call)`,
    score:` (${d>=0?'+':''}${d.toFixed(2)})`,success:` (${d>=0?'+':''}${(100*d).toFixed(1)} pts)`}[c.metric]||'';}
function render(data){
  const root=document.getElementById('experiments-body');root.textContent='';root.className='';
  if(data.error){root.textContent=data.error;root.className='muted';return;}
  if(!data.experiments.length){root.textContent='no experiment: give a route a loadbalance strategy in the routing file';
    root.className='muted';return;}
  for(const ex of data.experiments){
    const h=document.createElement('h3');h.textContent=ex.name+(ex.control?' (control: '+ex.control+')':'');root.appendChild(h);
    const table=document.createElement('table');const head=document.createElement('tr');
    ['variant','requests','success','fallback','p50','p95','tokens/call','cost/call','feedback (mean, 95% CI)']
      .forEach(t=>{const th=document.createElement('th');th.textContent=t;head.appendChild(th);});
    table.appendChild(head);
    for(const v of ex.variants){const tr=document.createElement('tr');
      cell(tr,v.variant);cell(tr,v.requests);cell(tr,pct(v.success_rate));cell(tr,pct(v.fallback_rate));
      cell(tr,ms(v.p50_ms));cell(tr,ms(v.p95_ms));cell(tr,num(v.tokens_per_call));cell(tr,money(v.cost_per_call));
      cell(tr,score(v.score,v.feedback));table.appendChild(tr);}
    root.appendChild(table);
    if(!ex.variants.length){const p=document.createElement('div');p.className='muted';p.textContent='no calls yet';root.appendChild(p);}
    const ul=document.createElement('ul');
    for(const c of ex.comparisons){const li=document.createElement('li');
      li.className=c.significant?'sig':'ns';
      li.textContent=`${c.variant} vs ${ex.control}, ${c.metric}: `+(c.p_value===null?'not enough data':
        `p=${c.p_value.toPrecision(2)} (${c.test}), ${c.significant?'significant':'not significant'}`)+diff(c);
      ul.appendChild(li);}
    root.appendChild(ul);}
}
async function poll(){
  // The page's window is minutes, or "auto" (since the service started): then the API's default, a day.
  try{const w=document.getElementById('window'),m=w&&w.value!=='auto'?'?minutes='+w.value:'';
      const r=await fetch('api/experiments'+m,{headers:tok()?{Authorization:'Bearer '+tok()}:{}});
      if(r.ok)render(await r.json());}catch(e){}
}
// Each poll reads the experiments' calls and runs the significance tests: every 30 s is fresh enough.
poll();setInterval(poll,30000);const w=document.getElementById('window');if(w)w.addEventListener('change',poll);
})();
"""
