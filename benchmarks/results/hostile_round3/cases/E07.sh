# class: extend a finished run
# case: extension: final/ is rewritten with the new last step (final == checkpoint step 8)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 4 > /dev/null 2>&1
K TA --output_dir o --max_steps 8 --resume
m=$(cmpw o o/checkpoints/step-000008 | grep -o 'MAXDIFF=[^ ]*'); echo $m
[ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && V handled "final = step 8" || V silent-wrong "final differs from step 8: $m"
