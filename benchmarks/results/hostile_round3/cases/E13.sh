# class: extend a finished run
# case: extend with --save_final_model false now (stored true): stale final/ from step 4 left?
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 8 --save_final_model false --resume
m=$(cmpw o o/checkpoints/step-000008 2>&1 | grep -o 'MAXDIFF=[^ ]*'); echo "final vs step 8: $m"
if [ ! -e o/final ]; then V handled "final/ removed"; elif [ "$m" = "MAXDIFF=0.0" ]; then V handled "final updated"; elif grep -qi final key.out; then V handled "stale final/ mentioned"; else V silent-wrong "final/ still holds step 4's model, no word"; fi
