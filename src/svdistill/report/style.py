"""The report's stylesheet, inlined into the page's <style>: the page needs no other file."""

CSS = """
:root { --fg:#1d2330; --muted:#5f6b7a; --line:#e3e6ea; --bg:#f6f7f9; --accent:#2f6fdb;
  --warn:#fff4d6; --warn-line:#e0a800; --bad:#b42318; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); line-height:1.45;
  font:15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:#fff; border-bottom:1px solid var(--line); padding:24px 40px 12px; }
h1 { margin:0 0 12px; font-size:24px; }
h2 { font-size:19px; margin:0 0 12px; padding-bottom:6px; border-bottom:2px solid var(--line); }
h3 { font-size:16px; margin:0 0 10px; }
.meta-grid { display:flex; flex-wrap:wrap; gap:6px 28px; font-size:14px; }
.meta-grid span { color:var(--muted); margin-right:4px; }
nav { margin-top:14px; font-size:14px; }
nav a { color:var(--accent); text-decoration:none; margin-right:14px; }
main { max-width:1180px; margin:0 auto; padding:20px 24px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:18px 22px;
  margin:0 0 18px; overflow-x:auto; }
section.round { background:#fbfcfd; }
section section { border-radius:6px; }
table { border-collapse:collapse; margin:6px 0 12px; font-size:14px;
  font-variant-numeric:tabular-nums; }
caption { text-align:left; color:var(--muted); font-size:13px; padding-bottom:4px; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:left;
  vertical-align:top; }
thead th { background:#f0f2f5; font-weight:600; font-size:13px; white-space:nowrap; }
td { white-space:nowrap; }
td.num, th.num { text-align:right; }
table.kv td { white-space:normal; word-break:break-all; }
table.kv th { font-weight:500; color:var(--muted); background:none; }
tr.total td { font-weight:600; border-top:2px solid var(--line); }
tr.trained td { background:#eef4ff; }
tr.warn td { background:var(--warn); }
tr.absent-row td { color:var(--muted); }
.flag { color:var(--bad); font-weight:600; }
.aside { color:var(--muted); }
p.meta { color:var(--muted); font-size:13px; margin-top:-6px; }
.better { color:#1e7b3c; font-weight:600; } .worse { color:var(--bad); font-weight:600; }
.indistinct { color:var(--muted); font-style:italic; }
.ok { color:#1e7b3c; } .absent { color:var(--bad); font-weight:600; }
.missing { color:var(--bad); background:#fff5f4; border-left:3px solid var(--bad);
  padding:8px 12px; margin:6px 0; }
.note { color:var(--muted); font-size:13.5px; max-width:900px; }
.warn-text { background:var(--warn); border-left:3px solid var(--warn-line); padding:6px 10px; }
.problems { background:var(--warn); border:1px solid var(--warn-line); border-radius:8px;
  padding:10px 18px; margin-bottom:18px; }
img.plot { display:block; max-width:100%; height:auto; margin:8px 0; }
pre.config { max-height:560px; overflow:auto; }
pre { background:#f6f8fa; border:1px solid var(--line); border-radius:6px; padding:12px;
  font-size:12.5px; overflow-x:auto; white-space:pre; }
pre.text { white-space:pre-wrap; word-break:break-word; max-height:320px; overflow-y:auto; }
details.example { border:1px solid var(--line); border-radius:6px; padding:8px 12px;
  margin:8px 0; }
details.example summary { cursor:pointer; font-weight:600; }
.label { font-size:12px; color:var(--muted); text-transform:uppercase; margin-top:8px; }
code { background:#f0f2f5; padding:1px 5px; border-radius:4px; }
footer { text-align:center; color:var(--muted); font-size:12.5px; padding:0 0 30px; }
"""
