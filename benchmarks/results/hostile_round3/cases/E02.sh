# class: extend a finished run
# case: finished --num_epochs 1 -> --resume --num_epochs 3 (16 pairs, batch 4: 4 -> 12 steps)
source /tmp/wh/cases/lib.sh
TA --output_dir o --num_epochs 1 > /dev/null 2>&1
K TA --output_dir o --num_epochs 3 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' '); ep=$(tail -1 o/metrics.csv | cut -d, -f3)
echo "rows=$rows lastepoch=$ep"
if [ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6 7 8 9 10 11 12" ] && [ "$ep" = 3 ]; then V handled "12 steps, epoch 3"; else V silent-wrong "rc $RC rows=$rows epoch=$ep"; fi
