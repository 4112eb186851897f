#!/bin/bash
# start.sh <edge build dir>: in work dir $W (default /tmp/rld) redis-server 18720, the parent folder's backend on 18710,
# two edges 18700/18701 (management 18702/18703) with the parent folder's proxy.json. Ports are the parent's minus 100.
H=$(cd "$(dirname "$0")" && pwd); W=${W:-/tmp/rld}; B=$1
mkdir -p $W && cd $W
for f in backend.js drive.js check.js proxy.json; do sed 's/18810/18710/' $H/../$f > $f; done
cp $H/burn.sh $H/probe.py $H/stop.sh .
redis-server --port 18720 --save '' --daemonize yes --pidfile $W/redis.pid --logfile $W/redis.log
node backend.js > backend.log 2>&1 & echo $! > backend.pid
for i in 0 1; do
  ( exec dotnet $B/Edge.Proxy.dll --urls http://127.0.0.1:$((18700+i)) --Edge:ManagementUrls=http://127.0.0.1:$((18702+i)) \
     --Edge:Redis=127.0.0.1:18720 --Edge:Audit:LocalFile=$W/audit$i.ndjson --Edge:ProxyConfigPath=$W/proxy.json \
     --Logging:LogLevel:Default=Warning ) > edge$i.log 2>&1 &
  echo $! > edge$i.pid
done
for i in $(seq 1 120); do curl -sf 127.0.0.1:18702/readyz >/dev/null && curl -sf 127.0.0.1:18703/readyz >/dev/null && echo ready && exit 0; sleep 1; done; echo notready
