r=$1; s=${2:-20}; c=${3:-64}; k=${4:-40}; extra=${5:-0}
node drive.js $r $s $c $k 18800,18801 > run-$r.json; python3 -c "
import json,subprocess;d=json.load(open('run-$r.json'));print(d['route'],d['secsRun'],d['total'],d['rps'],d['st'],d['codes'],'issues',d['issuesN']);print('\n'.join(d['issues'][:6]))
v=list(d['admittedPerKey'].values());print('client admitted/key min',min(v),'max',max(v))
o=subprocess.run(['node','check.js','$r',str(d['t0']),str(d['tEnd']),'20','2','20','$extra'],capture_output=True,text=True).stdout;print(o.splitlines()[0]);print(' '.join(x for x in o.split('  ') if 'OVER' in x)[:600])"
for M in 18802 18803; do curl -s 127.0.0.1:$M/metrics | grep -E "edge_ratelimit_fallbacks_total.*policy=\"$r\"" | sed 's/otel_scope_name="Edge.Proxy",//'; done
