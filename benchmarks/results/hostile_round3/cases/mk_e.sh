n=0
mk() { n=$((n+1)); id=$(printf 'E%02d' $n); { echo "# class: ${2:-extend a finished run}"; echo "# case: $1"; echo "source /tmp/wh/cases/lib.sh"; cat; } > $id.sh; }
mk "finished --max_steps 4 -> --resume --max_steps 8: step count, metric rows, latest" <<'EOF'
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 8 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' '); lat=$(cat o/checkpoints/latest)
echo "rows=$rows latest=$lat"
if [ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6 7 8" ] && [ "$lat" = step-000008 ]; then V handled "8 steps, rows 1..8 once"; else V silent-wrong "rc $RC rows=$rows latest=$lat"; fi
EOF
mk "finished --num_epochs 1 -> --resume --num_epochs 3 (16 pairs, batch 4: 4 -> 12 steps)" <<'EOF'
TA --output_dir o --num_epochs 1 > /dev/null 2>&1
K TA --output_dir o --num_epochs 3 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' '); ep=$(tail -1 o/metrics.csv | cut -d, -f3)
echo "rows=$rows lastepoch=$ep"
if [ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6 7 8 9 10 11 12" ] && [ "$ep" = 3 ]; then V handled "12 steps, epoch 3"; else V silent-wrong "rc $RC rows=$rows epoch=$ep"; fi
EOF
mk "extended run vs its own data order: steps 5-8 of an extended 4->8 run use epoch 2's order = a fresh 8-step run's batches (num_tokens per step equal)" <<'EOF'
TA --output_dir o --max_steps 4 > /dev/null 2>&1
TA --output_dir o --max_steps 8 --resume > key.out 2>&1; RC=$?; echo RC=$RC
TA --output_dir f --max_steps 8 > /dev/null 2>&1
a=$(cut -d, -f15 o/metrics.csv | paste -sd' '); b=$(cut -d, -f15 f/metrics.csv | paste -sd' ')
echo "ext: $a"; echo "fresh: $b"
[ "$a" = "$b" ] && V handled "num_tokens per step equal to a fresh 8-step run" || V silent-wrong "batches differ: $a vs $b"
EOF
mk "--resume --max_steps equal to the step reached (4 -> 4)" <<'EOF'
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 4 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' ')
[ $RC = 0 ] && [ "$rows" = "step 1 2 3 4" ] && V handled "nothing to do, rows $rows" || V unclear "rc $RC rows $rows"
EOF
mk "--resume --max_steps 3 on a run that reached 4 (shorter)" <<'EOF'
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 3 --resume
refuse 2 'shorter|max_steps|reached'
EOF
mk "--resume --num_epochs 0.5 on a run of 1 epoch (shorter)" <<'EOF'
TA --output_dir o --num_epochs 1 > /dev/null 2>&1
K TA --output_dir o --num_epochs 0.5 --resume
refuse 2 'shorter|num_epochs|reached'
EOF
mk "extension: final/ is rewritten with the new last step (final == checkpoint step 8)" <<'EOF'
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 8 --resume
m=$(cmpw o o/checkpoints/step-000008 | grep -o 'MAXDIFF=[^ ]*'); echo $m
[ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && V handled "final = step 8" || V silent-wrong "final differs from step 8: $m"
EOF
mk "extend twice 2 -> 4 -> 6 (rows, run.json max_steps)" <<'EOF'
TA --output_dir o --max_steps 2 > /dev/null 2>&1
TA --output_dir o --max_steps 4 --resume > /dev/null 2>&1
K TA --output_dir o --max_steps 6 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' '); ms=$($PY -c "import json;print(json.load(open('o/run.json'))['config']['max_steps'])")
echo "rows=$rows run.json max_steps=$ms"
[ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6" ] && [ "$ms" = 6 ] && V handled "6 steps" || V silent-wrong "rows=$rows max_steps=$ms"
EOF
mk "extend with --max_steps 0 --num_epochs 2 (stored max_steps 4)" <<'EOF'
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 0 --num_epochs 2 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' ')
[ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6 7 8" ] && V handled "8 steps (2 epochs)" || V unclear "rc $RC rows=$rows"
EOF
mk "extend with a learning-rate change at the same time (--learning_rate 1e-3)" <<'EOF'
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 8 --learning_rate 1e-3 --resume
refuse 2 'learning_rate'
EOF
mk "extend with eval: eval rows continue (eval_steps 2)" <<'EOF'
TA --output_dir o --max_steps 4 --eval_fraction 0.25 --eval_steps 2 > /dev/null 2>&1
K TA --output_dir o --max_steps 8 --eval_fraction 0.25 --eval_steps 2 --resume
ev=$(grep ',eval,' o/metrics.csv | cut -d, -f1 | paste -sd' ')
echo "eval rows at steps: $ev"
[ $RC = 0 ] && [ "$ev" = "2 4 6 8" ] && V handled "eval at 2 4 6 8" || V unclear "rc $RC eval rows: $ev"
EOF
mk "extension of a finished run whose last checkpoint is damaged (model.pt truncated)" <<'EOF'
TA --output_dir o --max_steps 4 --save_steps 2 > /dev/null 2>&1
truncate -s 100 o/checkpoints/step-000004/model.pt
K TA --output_dir o --max_steps 6 --resume
echo "latest: $(cat o/checkpoints/latest)"; rows=$(cut -d, -f1 o/metrics.csv | paste -sd' ')
grep -qi 'step-000004' key.out && [ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6" ] && V handled "fell back to step 2 (named), rows $rows" || V unclear "rc $RC rows $rows"
EOF
mk "extend with --save_final_model false now (stored true): stale final/ from step 4 left?" <<'EOF'
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 8 --save_final_model false --resume
m=$(cmpw o o/checkpoints/step-000008 2>&1 | grep -o 'MAXDIFF=[^ ]*'); echo "final vs step 8: $m"
if [ ! -e o/final ]; then V handled "final/ removed"; elif [ "$m" = "MAXDIFF=0.0" ]; then V handled "final updated"; elif grep -qi final key.out; then V handled "stale final/ mentioned"; else V silent-wrong "final/ still holds step 4's model, no word"; fi
EOF
mk "extend --num_epochs 2 on a run that was started with --max_steps 3 (not an epoch multiple)" <<'EOF'
TA --output_dir o --max_steps 3 > /dev/null 2>&1
K TA --output_dir o --num_epochs 2 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' ')
[ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6 7 8" ] && V handled "8 steps" || V unclear "rc $RC rows $rows"
EOF
