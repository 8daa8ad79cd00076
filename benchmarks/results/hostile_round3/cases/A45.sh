# class: sympo-audit: faults
# case: SIGINT during scoring (16384 pairs, signal after 4 s)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
for i in $(seq 1 64); do cat d256.jsonl; done > big.jsonl
nice -n 10 $VENV/bin/sympo-audit --no_progress --model $R1/final --ref_model $FX/model --data big.jsonl --beta 0.2 --output_dir a > key.out 2>&1 & p=$!
sleep 4; kill -INT $p; wait $p; RC=$?; echo "RC=$RC"; ls -a a 2>&1 | head -3
if tb; then V traceback "rc $RC (KeyboardInterrupt traceback)"; elif [ $RC = 130 ] && [ ! -e a/audit.csv ]; then V handled "130, nothing written"; elif [ $RC = 0 ]; then V unclear "finished before the signal"; else V unclear "rc $RC"; fi
