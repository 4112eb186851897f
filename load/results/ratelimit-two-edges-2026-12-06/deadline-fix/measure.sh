#!/bin/bash
# measure.sh <build> <route...>: the edge build copied to $W/<build>; fresh redis + 2 edges of <build>; per route a 20 s run (64 conns, 40 keys) under 6 busy loops
H=$(cd "$(dirname "$0")" && pwd); W=${W:-/tmp/rld}; b=$1; shift; mkdir -p $W; cd $W; [ -f stop.sh ] && ./stop.sh; sleep 1; W=$W $H/start.sh $W/$b >/dev/null || { echo start failed; exit 1; }
for r in "$@"; do
  curl -s 127.0.0.1:18710/_reset >/dev/null
  RP=$(cat redis.pid); S0=$(awk '{print $1, $2}' /proc/$RP/schedstat)
  (./burn.sh 6 21 &); (python3 probe.py 20 > probe.txt &)
  node drive.js $r 20 64 40 18700,18701 > run-$b-$r.json
  S1=$(awk '{print $1, $2}' /proc/$RP/schedstat); sleep 1
  ADM=$(node check.js $r $(python3 -c "import json;d=json.load(open('run-$b-$r.json'));print(d['t0'],d['tEnd'])") 20 2 20 0 | tail -1 | tr ' ' '\n' | grep -o ':[0-9]*/' | tr -d ':/' | sort -n | sed -n '1p;$p' | tr '\n' ' ')
  FB=$(for M in 18702 18703; do curl -s 127.0.0.1:$M/metrics | grep -E "^edge_ratelimit_fallbacks_total.*policy=\"$r\""; done | sed -E 's/.*reason="([a-z_]+)"\} ([0-9]+)/\1 \2/' | awk '{a[$1]+=$2} END{for(k in a) printf "%s=%d ", k, a[k]}')
  python3 -c "
import json;d=json.load(open('run-$b-$r.json'));s0='$S0'.split();s1='$S1'.split()
print('$b $r rps=%d st=%s admitted/key(min,max)=%s fallbacks=[%s] redis run=%.1fs wait=%.1fs probe: %s'%(d['rps'],d['st'],'$ADM'.split(),'$FB'.strip(),(int(s1[0])-int(s0[0]))/1e9,(int(s1[1])-int(s0[1]))/1e9,open('probe.txt').read().strip()))"
done
./stop.sh
