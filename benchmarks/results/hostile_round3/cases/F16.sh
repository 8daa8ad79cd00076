# class: faults
# case: SIGINT after 'done:' while the process exits (signal flood at the end)
source /tmp/wh/cases/lib.sh
source /tmp/wh/cases/flib.sh
bg --output_dir o
until grep -q 'done:' bg.out; do sleep 0.01; kill -0 $P 2>/dev/null || break; done
for i in 1 2 3; do kill -INT $P 2>/dev/null; done; wait $P; RC=$?; echo RC=$RC; cp bg.out key.out
if tb; then V traceback "rc $RC"; elif [ $RC = 0 ]; then V handled "0 kept"; else V unclear "finished run exited $RC"; fi
