#!/bin/bash
# burn.sh N SECS: N busy loops for SECS seconds (extra CPU pressure so redis-server is starved)
for i in $(seq 1 $1); do timeout $2 sh -c 'while :; do :; done' & done; wait
