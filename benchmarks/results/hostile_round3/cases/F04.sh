# class: faults
# case: SIGINT twice in quick succession mid-run: status, then --resume exact
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
fresh
bg --output_dir o
until [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 8 ]; do sleep 0.1; kill -0 $P || break; done
kill -INT $P; sleep 0.05; kill -INT $P; wait $P; rc1=$?; echo "rc1=$rc1"; tail -2 bg.out
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
[ $rc1 = 130 ] && ! grep -q Traceback bg.out && [ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && rows_ok o && V handled "130, then exact" || V unclear "rc1 $rc1 rc $RC $m"
