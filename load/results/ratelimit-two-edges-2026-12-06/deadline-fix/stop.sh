#!/bin/bash
cd ${W:-/tmp/rld}; for f in edge0 edge1 backend; do [ -f $f.pid ] && kill $(cat $f.pid) 2>/dev/null; rm -f $f.pid; done
[ -f redis.pid ] && kill $(cat redis.pid) 2>/dev/null; rm -f redis.pid
