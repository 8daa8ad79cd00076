# class: faults
# case: metrics.csv deleted while the run is live
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
bg --output_dir o
until [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 4 ]; do sleep 0.05; kill -0 $P || break; done
rm -f o/metrics.csv; wait $P; RC=$?; echo RC=$RC; cp bg.out key.out
rows=$(cut -d, -f1 o/metrics.csv 2>/dev/null | head -3 | paste -sd' '); echo "metrics head: $rows"
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ]; then V handled "stopped, 4"; elif [ $RC = 0 ] && [ -e o/metrics.csv ] && head -1 o/metrics.csv | grep -q '^step'; then V handled "recreated with header ($rows)"; elif [ $RC = 0 ]; then V silent-wrong "rc 0; metrics.csv: $rows (rows lost/no header, no word)"; else V unclear "rc $RC"; fi
