"""The HTML report's inline style and script: no stylesheet or script is fetched.

The tables keep the test's name and its key figures (J/call, verdict) side by side at any
width: the name column is capped and cut with an ellipsis (the full id on hover), the
lower-priority columns (class ``lo``) come after them and hide on narrow screens. Headers
sort on click: numbers descending first, text ascending, with a ▲/▼ arrow and
``aria-sort`` kept up to date.
"""

from __future__ import annotations

STYLE = r"""
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:12px;color:#212121}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}.facts dt{font-weight:600}
.facts dd{margin:0;overflow-wrap:anywhere}
.estimate{background:#fff3e0;border-left:4px solid #ef6c00;padding:6px 10px}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
th{cursor:pointer;background:#fafafa;position:sticky;top:0;user-select:none}td.n{text-align:right}
th[aria-sort=none]::after{content:" \21C5";color:#bbb}
th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
td.id{max-width:min(42vw,560px);overflow:hidden;text-overflow:ellipsis}
tr:target{background:#fff59d}
input.filter{margin:6px 0;padding:4px;width:min(420px,100%)}svg{max-width:100%;height:auto}
figcaption{font-size:12px;color:#555}
.tag{border-radius:3px;padding:0 4px;color:#fff}
.summary{border:1px solid #ddd;border-left:6px solid #2e7d32;background:#f1f8e9;padding:6px 12px;
 margin:12px 0}
.summary.bad{border-left-color:#c62828;background:#fff5f5}.summary h3{font-size:15px;margin:8px 0 2px}
.summary ul{margin:2px 0 6px;padding-left:20px}.summary li{overflow-wrap:anywhere}
.legend{columns:2 320px;font-size:12px;padding-left:20px}.legend li{overflow-wrap:anywhere}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
@media (max-width:640px){.lo{display:none}body{padding:6px}td.id{max-width:44vw}}
"""

SCRIPT = r"""
document.querySelectorAll('table.sortable').forEach(function(t){
 var heads=Array.from(t.tHead.rows[0].cells);
 heads.forEach(function(th,i){
  function sort(){
   var b=t.tBodies[0],rows=Array.from(b.rows);
   var num=rows.some(function(r){return r.cells[i]&&r.cells[i].dataset.v!==undefined;});
   var was=th.getAttribute('aria-sort'),asc=(was===null||was==='none')?!num:was==='descending';
   heads.forEach(function(h){h.setAttribute('aria-sort','none');});
   th.setAttribute('aria-sort',asc?'ascending':'descending');
   function key(r){var c=r.cells[i];
    if(num){return c&&c.dataset.v!==undefined?parseFloat(c.dataset.v):-Infinity;}
    return c?c.textContent:'';}
   rows.sort(function(x,y){var a=key(x),c=key(y);
    var r=num?(a<c?-1:a>c?1:0):String(a).localeCompare(String(c));return asc?r:-r;});
   rows.forEach(function(r){b.appendChild(r);});}
  th.tabIndex=0;th.addEventListener('click',sort);
  th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sort();}});
 });});
document.querySelectorAll('input.filter').forEach(function(f){f.addEventListener('input',function(){
 var q=f.value.toLowerCase();
 document.getElementById(f.dataset.table).tBodies[0].querySelectorAll('tr').forEach(
  function(r){var t=((r.cells[0].title||'')+' '+r.textContent).toLowerCase();
   r.style.display=t.indexOf(q)>=0?'':'none';});});});
"""
