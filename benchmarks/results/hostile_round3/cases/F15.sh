# class: faults
# case: SIGTERM during start-up (before the first step), then --resume
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
fresh
bg --output_dir o
until [ -e o/run.json ]; do sleep 0.02; kill -0 $P || break; done; kill -TERM $P; wait $P; rc1=$?
echo "rc1=$rc1 $(ls o 2>&1 | paste -sd' ')"
K nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir o --resume
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo "$m"
[ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && V handled "rc1 $rc1; resume exact" || V unclear "rc1 $rc1 rc $RC $m"
