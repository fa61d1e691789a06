"""The dashboard's workflow panel: recent runs, and the selected run's step timeline with its LLM calls.

The recent runs come with the dashboard's feed (``d.workflow_runs``); the calls of the selected run (the
requests recorded with its trace id) are fetched once per run from ``/api/workflows/runs/{trace_id}``.
Click a run to see its timeline (the newest is shown first).
"""

from __future__ import annotations

HTML = """<style>
#wf-runs tr{cursor:pointer} #wf-runs tr.sel td{background:#eef3fd}
.wf-row{display:grid;grid-template-columns:minmax(90px,140px) 1fr minmax(150px,300px);gap:8px;align-items:center;
  font-size:13px;margin:3px 0} .wf-track{position:relative;height:16px;background:#f0f2f5;border-radius:3px}
.wf-bar{position:absolute;top:2px;bottom:2px;border-radius:3px;min-width:3px}
.wf-completed{background:#1a9b5b} .wf-skipped{background:#f2a900} .wf-failed,.wf-cancelled{background:#b3261e}
.wf-call{background:#2f6fde;top:5px;bottom:5px} .wf-call.wf-cached{background:#9b51e0}
.wf-call.wf-error{background:#b3261e} #wf-head{font-size:13px;margin:10px 0 6px} #wf-calls-head{font-size:13px;margin:8px 0 2px}
</style><div class="card wide" id="workflows"><h2>Workflow runs</h2>""" + (
    '<div class="scroll"><table><thead><tr><th>ended</th><th>workflow</th><th>status</th><th class=num>steps</th>'
    '<th class=num>cost</th><th class=num>duration</th><th>trace</th></tr></thead><tbody id="wf-runs"></tbody>'
    '</table></div><div id="wf-head" class="muted"></div><div id="wf-timeline"></div></div>')

SCRIPT = r"""
let wfSelected=null;const wfCalls={};
function render_workflows(d){const runs=d.workflow_runs||[];
  rows('wf-runs',runs,r=>[[clock(new Date(r.ts*1000))],[r.workflow],
    [r.status+(r.stopped?' ('+r.stopped+')':''),r.status==='completed'?'ok':(r.status==='partial'?'':'bad'),r.error||''],
    [r.steps.length,'num'],[usd(r.cost_usd),'num'],[ms(r.duration_ms),'num'],[r.trace_id]],
    'no workflow run yet: sophia workflow run NAME --input FILE, or POST /v1/workflows/NAME/runs');
  const run=runs.find(r=>r.trace_id===wfSelected)||runs[0];
  [...$('wf-runs').children].forEach((tr,i)=>{if(!runs[i])return;tr.className=runs[i]===run?'sel':'';
    tr.onclick=()=>{wfSelected=runs[i].trace_id;render_workflows(d);};});
  wfTimeline(run);}
function wfLine(box,label,bars,text,title){const row=document.createElement('div'),name=document.createElement('span'),
    track=document.createElement('div'),info=document.createElement('span');row.className='wf-row';
  name.textContent=label;track.className='wf-track';info.textContent=text;info.className='muted';row.title=title||'';
  for(const [left,width,cls] of bars){const bar=document.createElement('div');bar.className='wf-bar '+cls;
    bar.style.left=left+'%';bar.style.width=Math.max(0.4,width)+'%';track.appendChild(bar);}
  row.append(name,track,info);box.appendChild(row);}
function wfTimeline(run){const box=$('wf-timeline');box.textContent='';
  if(!run){$('wf-head').textContent='';return;}
  const total=Math.max(run.duration_ms,1),pc=v=>Math.min(100,Math.max(0,100*v/total));
  $('wf-head').textContent=`${run.workflow} · ${run.status} · ${ms(run.duration_ms)} · ${usd(run.cost_usd)} · `+
    `${(run.prompt_tokens+run.completion_tokens).toLocaleString()} tokens · trace ${run.trace_id}`;
  for(const s of run.steps){const served=s.provider?`${s.provider}/${s.model}`+(s.fallback_used?' (fallback)':'')+
      (s.cached?' (cache)':''):(s.error||s.status);
    wfLine(box,s.name,[[pc(s.started_ms),pc(s.ended_ms-s.started_ms),'wf-'+s.status]],`${served} · ${usd(s.cost_usd)}`,
      s.error||`${s.role}: ${s.status}`);}
  const calls=wfCalls[run.trace_id];
  if(calls===undefined){wfCalls[run.trace_id]=null;
    fetch('api/workflows/runs/'+run.trace_id,{headers:token?{Authorization:'Bearer '+token}:{}})
      .then(r=>r.ok?r.json():null).then(j=>{wfCalls[run.trace_id]=j?j.calls:[];if(last)render_workflows(last);})
      .catch(()=>{});return;}
  if(!calls||!calls.length)return;
  const head=document.createElement('div');head.className='muted';head.id='wf-calls-head';
  head.textContent=`LLM calls with this trace id (${calls.length}, from the request analytics)`;box.appendChild(head);
  for(const c of calls){const start=(c.ts-c.latency_ms/1000-run.started_at)*1000,
      cls='wf-call'+(c.cache_status?' wf-cached':'')+(c.error_class?' wf-error':'');
    wfLine(box,c.role||c.requested,[[pc(start),pc(c.latency_ms),cls]],
      (c.provider?`${c.provider}/${c.model}`:c.error_class)+` · ${ms(c.latency_ms)}`+(c.cache_status?' · '+c.cache_status:''),
      c.error_class||'');}}
"""
