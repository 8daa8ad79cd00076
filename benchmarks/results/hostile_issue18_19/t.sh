#!/bin/bash
# usage: t.sh N cmd...   -> logs/N.txt, prints rc and last user-visible lines
n=$1; shift
mkdir -p /tmp/h18/logs
cd /tmp/h18
( export OMP_NUM_THREADS=1 PATH=/work/wt/h18/.venv/bin:$PATH; eval "$@" ) > logs/$n.txt 2>&1
rc=$?
echo "== #$n rc=$rc :: $*"
tr '\r' '\n' < logs/$n.txt | grep -v -E "Loading weights|it/s\]|batch/s\]|Writing model|^\s*$" | tail -${TAIL:-3}
