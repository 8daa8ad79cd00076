# class: faults
# case: tb/ deleted while the run is live
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
bg --output_dir o
until [ -d o/tb ] && [ $(cat o/metrics.csv 2>/dev/null | wc -l) -ge 4 ]; do sleep 0.05; kill -0 $P || break; done
rm -rf o/tb; wait $P; RC=$?; echo RC=$RC; cp bg.out key.out
echo "tb after: $(ls o/tb 2>&1 | head -2)"
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ] && grep -qi 'tb' key.out; then V handled "stopped, status 4 naming tb/"; elif [ $RC = 0 ] && [ -d o/tb ]; then V handled "tb/ recreated, rc 0"; elif [ $RC = 0 ]; then V silent-wrong "rc 0, TensorBoard events after the deletion lost without a word"; else V unclear "rc $RC"; fi
