# class: faults
# case: SIGTERM once mid-run: 143 + checkpoint; --resume exact
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
fresh
bg --output_dir o
until [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 8 ]; do sleep 0.1; kill -0 $P || break; done
kill -TERM $P; wait $P; rc1=$?; echo "rc1=$rc1"; tail -1 bg.out
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
[ $rc1 = 143 ] && [ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && rows_ok o && V handled "143, exact" || V unclear "rc1 $rc1 rc $RC $m"
