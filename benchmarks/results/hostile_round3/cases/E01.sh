# class: extend a finished run
# case: finished --max_steps 4 -> --resume --max_steps 8: step count, metric rows, latest
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 8 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' '); lat=$(cat o/checkpoints/latest)
echo "rows=$rows latest=$lat"
if [ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6 7 8" ] && [ "$lat" = step-000008 ]; then V handled "8 steps, rows 1..8 once"; else V silent-wrong "rc $RC rows=$rows latest=$lat"; fi
