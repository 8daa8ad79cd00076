# BIG: the 64-step run on d256 with a checkpoint per step
BIGARGS="--model model --train_data d256.jsonl --batch_size 4 --progress false --max_steps 64 --save_steps 1"
bg() { nice -n 10 $VENV/bin/sympo-train $BIGARGS "$@" > bg.out 2>&1 & P=$!; }
fresh() { TA_=1; nice -n 10 $VENV/bin/sympo-train $BIGARGS --output_dir f "$@" > fresh.out 2>&1; }
rows_ok() { local r; r=$(cut -d, -f1 $1/metrics.csv | grep -v step | sort -n | uniq -d | wc -l); local c; c=$(cut -d, -f1 $1/metrics.csv | grep -vc step); echo "metrics rows=$c dup=$r"; [ "$r" = 0 ] && [ "$c" = 64 ]; }
