# class: option edges
# case: --max_steps 2**63 (past int64): runs (stopped by SIGINT after 20 s); what learning rate does it train at?
source /tmp/wh/cases/lib.sh
K timeout -s INT 20 nice -n 10 $VENV/bin/sympo-train --model model --train_data d16.jsonl --batch_size 4 --progress false --output_dir o --max_steps 9223372036854775808
lr=$(tail -1 o/metrics.csv | cut -d, -f13); n=$(wc -l < o/metrics.csv); echo "steps logged $n, last lr $lr"
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ]; then V handled "refused"; else V unclear "accepted past int64: $n steps at learning rate $lr (warmup over 10% of 2^63 steps), no word"; fi
